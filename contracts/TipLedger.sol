// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ConsistencyVerifier} from "./ConsistencyVerifier.sol";

/// @title TipLedger: the on-chain half of the TipLedger protocol (PROTOCOL.md section 4).
/// @notice Anchors append-only RFC 9162 checkpoints of the tip log, takes direct commitments that
/// the service cannot censor, records review outcomes, and records quorum-approved disclosures.
contract TipLedger is AccessControl, EIP712 {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    bytes32 public constant REVIEWER_ROLE = keccak256("REVIEWER_ROLE");
    bytes32 public constant CUSTODIAN_ROLE = keccak256("CUSTODIAN_ROLE");
    bytes32 public constant DISCLOSURE_TYPEHASH =
        keccak256("Disclosure(bytes32 recordId,bytes32 requestDigest,address requester)");

    uint8 private constant MAX_REVIEW_STATUS = 5;

    /// @dev Two slots per checkpoint: the root, and the time fields packed together.
    struct Checkpoint {
        bytes32 rootHash;
        uint64 timestamp;
        uint64 blockNumber;
    }

    struct Review {
        uint8 status;
        uint64 timestamp;
        address reviewer;
    }

    uint64 private immutable _maxMergeDelay;

    /// @dev One slot: the latest anchored size (read and rewritten by every anchor) and the
    /// threshold (read by every disclosure), so neither pays for a slot of its own.
    uint64 private _latestSize;
    uint8 private _disclosureThreshold;

    mapping(uint64 treeSize => Checkpoint) private _checkpoints;
    mapping(bytes32 commitment => Review) private _reviews;
    mapping(bytes32 recordAndRequest => bool) private _disclosed;

    event Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 timestamp);
    event DirectCommitment(bytes32 indexed commitment, address indexed sender, uint64 timestamp);
    event ReviewRecorded(
        bytes32 indexed commitment,
        uint8 status,
        bytes32 noteDigest,
        address indexed reviewer,
        uint64 timestamp
    );
    event DisclosureApproved(
        bytes32 indexed recordId, bytes32 requestDigest, address indexed requester, uint64 timestamp
    );
    event DisclosureThresholdChanged(uint8 previous, uint8 current);

    error ZeroAddress();
    error InvalidThreshold(uint8 threshold);
    error EmptyTree();
    error ZeroRootHash();
    error StaleTreeSize(uint64 latest, uint64 given);
    error UnexpectedProof(uint256 length);
    error InconsistentCheckpoint();
    error InvalidReviewStatus(uint8 status);
    error InsufficientSignatures(uint256 have, uint256 need);
    error InvalidSignature(uint256 index);
    error NotCustodian(address signer);
    error DuplicateSigner(address signer);
    error DisclosureAlreadyRecorded(bytes32 recordId, bytes32 requestDigest);

    /// @param admin holds DEFAULT_ADMIN_ROLE (grants and revokes every role).
    /// @param anchorer the service's anchoring key.
    /// @param reviewers initial REVIEWER_ROLE holders; custodians likewise for CUSTODIAN_ROLE.
    constructor(
        address admin,
        address anchorer,
        address[] memory reviewers,
        address[] memory custodians,
        uint64 maxMergeDelay_,
        uint8 disclosureThreshold_
    ) EIP712("TipLedger", "1") {
        if (admin == address(0) || anchorer == address(0)) revert ZeroAddress();
        if (disclosureThreshold_ == 0) revert InvalidThreshold(disclosureThreshold_);
        _maxMergeDelay = maxMergeDelay_;
        _disclosureThreshold = disclosureThreshold_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, anchorer);
        for (uint256 i = 0; i < reviewers.length; ++i) {
            _grantRole(REVIEWER_ROLE, reviewers[i]);
        }
        for (uint256 i = 0; i < custodians.length; ++i) {
            _grantRole(CUSTODIAN_ROLE, custodians[i]);
        }
    }

    // ---------------------------------------------------------------- checkpoints

    /// @notice Anchors the log's tree head at `treeSize`, proven to extend the latest checkpoint.
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof)
        external
        onlyRole(ANCHORER_ROLE)
    {
        if (treeSize == 0) revert EmptyTree();
        if (rootHash == bytes32(0)) revert ZeroRootHash();
        uint64 previous = _latestSize;
        if (treeSize <= previous) revert StaleTreeSize(previous, treeSize);
        if (previous == 0) {
            // Nothing to be consistent with yet; a proof here means the caller is confused.
            if (consistencyProof.length != 0) revert UnexpectedProof(consistencyProof.length);
        } else if (
            !ConsistencyVerifier.verify(
                previous, treeSize, _checkpoints[previous].rootHash, rootHash, consistencyProof
            )
        ) {
            revert InconsistentCheckpoint();
        }
        uint64 timestamp = uint64(block.timestamp);
        _checkpoints[treeSize] = Checkpoint(rootHash, timestamp, uint64(block.number));
        _latestSize = treeSize;
        emit Anchored(treeSize, rootHash, timestamp);
    }

    /// @notice The checkpoint anchored at exactly `treeSize`; zeros if that size was never anchored.
    function checkpoint(uint64 treeSize)
        external
        view
        returns (bytes32 rootHash, uint64 timestamp, uint64 blockNumber)
    {
        Checkpoint storage c = _checkpoints[treeSize];
        return (c.rootHash, c.timestamp, c.blockNumber);
    }

    /// @notice The newest checkpoint; all zeros before the first anchor.
    function latest()
        external
        view
        returns (uint64 treeSize, bytes32 rootHash, uint64 timestamp, uint64 blockNumber)
    {
        treeSize = _latestSize;
        Checkpoint storage c = _checkpoints[treeSize];
        return (treeSize, c.rootHash, c.timestamp, c.blockNumber);
    }

    /// @notice Seconds within which the service must log a direct commitment or a promised tip.
    function maxMergeDelay() external view returns (uint64) {
        return _maxMergeDelay;
    }

    // ---------------------------------------------------------------- commitments and reviews

    /// @notice Publishes a commitment without the service, so the service cannot censor it.
    function commit(bytes32 commitment) external {
        emit DirectCommitment(commitment, msg.sender, uint64(block.timestamp));
    }

    /// @notice Records the outcome of a review; statuses 1..5 (0 means never reviewed).
    function recordReview(bytes32 commitment, uint8 status, bytes32 noteDigest)
        external
        onlyRole(REVIEWER_ROLE)
    {
        if (status == 0 || status > MAX_REVIEW_STATUS) revert InvalidReviewStatus(status);
        uint64 timestamp = uint64(block.timestamp);
        _reviews[commitment] = Review(status, timestamp, msg.sender);
        emit ReviewRecorded(commitment, status, noteDigest, msg.sender, timestamp);
    }

    /// @notice The latest review of `commitment`; zeros if never reviewed.
    function reviewOf(bytes32 commitment)
        external
        view
        returns (uint8 status, uint64 timestamp, address reviewer)
    {
        Review storage r = _reviews[commitment];
        return (r.status, r.timestamp, r.reviewer);
    }

    // ---------------------------------------------------------------- disclosures

    function disclosureThreshold() external view returns (uint8) {
        return _disclosureThreshold;
    }

    function setDisclosureThreshold(uint8 threshold) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (threshold == 0) revert InvalidThreshold(threshold);
        emit DisclosureThresholdChanged(_disclosureThreshold, threshold);
        _disclosureThreshold = threshold;
    }

    /// @notice The EIP-712 digest a custodian signs to approve this disclosure.
    function disclosureDigest(bytes32 recordId, bytes32 requestDigest, address requester)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(DISCLOSURE_TYPEHASH, recordId, requestDigest, requester))
        );
    }

    /// @notice Whether the disclosure of `recordId` for `requestDigest` has been recorded.
    function isDisclosed(bytes32 recordId, bytes32 requestDigest) external view returns (bool) {
        return _disclosed[keccak256(abi.encode(recordId, requestDigest))];
    }

    /// @notice Records a disclosure approved by at least `disclosureThreshold()` distinct
    /// custodians. Every signature must be valid: one bad signature refuses the whole set, so
    /// the record never lists an approval that was not given.
    function recordDisclosure(
        bytes32 recordId,
        bytes32 requestDigest,
        address requester,
        bytes[] calldata signatures
    ) external {
        if (requester == address(0)) revert ZeroAddress();
        uint256 need = _disclosureThreshold;
        if (signatures.length < need) revert InsufficientSignatures(signatures.length, need);
        bytes32 key = keccak256(abi.encode(recordId, requestDigest));
        if (_disclosed[key]) revert DisclosureAlreadyRecorded(recordId, requestDigest);

        bytes32 digest = disclosureDigest(recordId, requestDigest, requester);
        address[] memory signers = new address[](signatures.length);
        for (uint256 i = 0; i < signatures.length; ++i) {
            (address signer, ECDSA.RecoverError err,) =
                ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (!hasRole(CUSTODIAN_ROLE, signer)) revert NotCustodian(signer);
            // Quorums are a handful of custodians: a quadratic scan beats a storage set.
            for (uint256 j = 0; j < i; ++j) {
                if (signers[j] == signer) revert DuplicateSigner(signer);
            }
            signers[i] = signer;
        }
        _disclosed[key] = true;
        emit DisclosureApproved(recordId, requestDigest, requester, uint64(block.timestamp));
    }
}
