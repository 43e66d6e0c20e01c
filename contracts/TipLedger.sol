// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {Agencies} from "./Agencies.sol";
import {ConsistencyVerifier} from "./ConsistencyVerifier.sol";
import {RoutingVerifier} from "./RoutingVerifier.sol";

/// @title TipLedger: the on-chain half of the TipLedger protocol (PROTOCOL.md sections 4 and 16).
/// @notice Anchors append-only RFC 9162 checkpoints of the tip log with a commitment to each
/// batch's routing, takes direct commitments that the service cannot censor, keeps the agencies
/// and their members' keys, lets only members of an agency holding a case review or refer it,
/// and records quorum-approved disclosures.
contract TipLedger is AccessControl, EIP712, Agencies {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @dev No longer needed to review (membership is); it names who may request disclosures.
    bytes32 public constant REVIEWER_ROLE = keccak256("REVIEWER_ROLE");
    bytes32 public constant CUSTODIAN_ROLE = keccak256("CUSTODIAN_ROLE");
    bytes32 public constant DISCLOSURE_TYPEHASH =
        keccak256("Disclosure(bytes32 recordId,bytes32 requestDigest,address requester)");

    uint8 private constant MAX_REVIEW_STATUS = 5;
    /// @dev One routing count: uint16 agency index || uint32 count.
    uint256 private constant COUNT_ENTRY_SIZE = 6;

    /// @dev Two slots per checkpoint: the root, and the sizes and times packed together (the
    /// routing root has a mapping of its own).
    struct Checkpoint {
        bytes32 rootHash;
        uint64 timestamp;
        uint64 blockNumber;
        uint64 previousSize;
    }

    /// @notice Shows that a case's commitment was routed to an agency (PROTOCOL.md 16.4);
    /// `treeSize == 0` is no proof.
    struct RoutingProof {
        uint64 treeSize;
        uint64 index;
        bytes32 salt;
        bytes32[] path;
    }

    /// @dev One slot per case: its latest review over all agencies, and whether it is open.
    struct Case {
        uint8 status;
        uint64 timestamp;
        address reviewer;
        bool opened;
    }

    /// @dev One slot per (case, agency): the agency's latest review, and whether it holds the
    /// case now (a review survives a referral away, so reviewBy still answers).
    struct Hold {
        uint8 status;
        uint64 timestamp;
        address reviewer;
        bool holds;
    }

    uint64 private immutable _maxMergeDelay;

    /// @dev One slot with Agencies' `_agencyCount` (declared just before): the latest anchored
    /// size (read and rewritten by every anchor), the agency count (read by every anchor) and
    /// the threshold (read by every disclosure), so none pays for a slot of its own.
    uint64 private _latestSize;
    uint8 private _disclosureThreshold;

    mapping(uint64 treeSize => Checkpoint) private _checkpoints;
    mapping(uint64 treeSize => bytes32) private _routingRoots;
    mapping(bytes32 recordAndRequest => bool) private _disclosed;
    mapping(bytes32 commitment => Case) private _cases;
    mapping(bytes32 commitment => mapping(bytes32 agency => Hold)) private _holds;

    event Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 timestamp);
    event Routed(
        uint64 indexed treeSize,
        bytes32 routingRoot,
        uint64 previousSize,
        bytes counts
    );
    event DirectCommitment(bytes32 indexed commitment, address indexed sender, uint64 timestamp);
    event CaseOpened(
        bytes32 indexed commitment, bytes32 indexed agency, uint64 treeSize, uint64 index
    );
    event Referred(
        bytes32 indexed commitment,
        bytes32 indexed fromAgency,
        bytes32 indexed toAgency,
        bool keepAccess,
        address by,
        uint64 timestamp
    );
    event ReviewRecorded(
        bytes32 indexed commitment,
        bytes32 indexed agency,
        uint8 status,
        bytes32 noteDigest,
        address indexed reviewer,
        uint64 timestamp
    );
    event DisclosureApproved(
        bytes32 indexed recordId, bytes32 requestDigest, address indexed requester, uint64 timestamp
    );
    event DisclosureThresholdChanged(uint8 previous, uint8 current);

    error InvalidThreshold(uint8 threshold);
    error EmptyTree();
    error ZeroRootHash();
    error StaleTreeSize(uint64 latest, uint64 given);
    error UnexpectedProof(uint256 length);
    error InconsistentCheckpoint();
    error RoutingCountMismatch(uint256 routed, uint64 batch);
    error UnsortedAgencies();
    error MalformedRoutingCounts(uint256 length);
    error UnknownAgencyIndex(uint16 agencyIndex);
    error ZeroRoutingCount(uint16 agencyIndex);
    error SameAgency(bytes32 agency);
    error UnroutedCheckpoint(uint64 treeSize);
    error InvalidRoutingProof(bytes32 commitment);
    error CaseNotHeld(bytes32 commitment, bytes32 agency);
    error AlreadyHolds(bytes32 commitment, bytes32 agency);
    error InvalidReviewStatus(uint8 status);
    error InsufficientSignatures(uint256 have, uint256 need);
    error InvalidSignature(uint256 index);
    error NotCustodian(address signer);
    error DuplicateSigner(address signer);
    error DisclosureAlreadyRecorded(bytes32 recordId, bytes32 requestDigest);

    /// @param admin holds DEFAULT_ADMIN_ROLE (grants and revokes every role, keeps the agencies).
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

    /// @notice Anchors the log's tree head at `treeSize`, proven to extend the latest checkpoint,
    /// with the root of the batch's routing tree and how many of its tips went to each agency:
    /// `counts` is 6-byte entries `uint16 agencyIndex || uint32 count` (big-endian), indexes
    /// strictly increasing (PROTOCOL.md 16.4).
    function anchor(
        uint64 treeSize,
        bytes32 rootHash,
        bytes32[] calldata consistencyProof,
        bytes32 routingRoot,
        bytes calldata counts
    ) external onlyRole(ANCHORER_ROLE) {
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
        if (routingRoot == bytes32(0)) revert ZeroRootHash();
        _checkRouting(treeSize - previous, _agencyCount, counts);
        uint64 timestamp = uint64(block.timestamp);
        _checkpoints[treeSize] = Checkpoint(rootHash, timestamp, uint64(block.number), previous);
        _routingRoots[treeSize] = routingRoot;
        _latestSize = treeSize;
        emit Anchored(treeSize, rootHash, timestamp);
        emit Routed(treeSize, routingRoot, previous, counts);
    }

    /// @dev The counts must cover the batch exactly, over existing agencies listed once each in
    /// increasing index order (so a batch's routing has one spelling), none with no tips. A
    /// deactivated agency still counts: deactivating one must not stall the log. Indexes are
    /// checked against the agency count alone: no storage read per agency.
    function _checkRouting(uint64 batch, uint256 agencies, bytes calldata counts) private pure {
        if (counts.length % COUNT_ENTRY_SIZE != 0) revert MalformedRoutingCounts(counts.length);
        uint256 routed;
        uint256 bad;
        uint256 next; // after the loop: 1 + the last index (the greatest, if all increase)
        assembly ("memory-safe") {
            let offset := counts.offset
            for { let end := add(offset, counts.length) } lt(offset, end) {
                offset := add(offset, 6)
            } {
                let entry := shr(208, calldataload(offset))
                let index := shr(32, entry)
                let count := and(entry, 0xffffffff)
                bad := or(bad, or(lt(index, next), iszero(count)))
                routed := add(routed, count)
                next := add(index, 1)
            }
        }
        if (bad != 0 || next > agencies) _refuseEntries(agencies, counts);
        if (routed != batch) revert RoutingCountMismatch(routed, batch);
    }

    /// @dev Names the first bad entry of `counts` (off the hot path, which only saw that one is).
    function _refuseEntries(uint256 agencies, bytes calldata counts) private pure {
        uint256 next = 0;
        for (uint256 i = 0; i < counts.length; i += COUNT_ENTRY_SIZE) {
            uint16 index = uint16(bytes2(counts[i:i + 2]));
            if (index >= agencies) revert UnknownAgencyIndex(index);
            if (index < next) revert UnsortedAgencies();
            if (uint32(bytes4(counts[i + 2:i + 6])) == 0) revert ZeroRoutingCount(index);
            next = uint256(index) + 1;
        }
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

    /// @notice The routing root of the batch anchored at `treeSize` and the size it grew from;
    /// zeros if that size was never anchored.
    function routingOf(uint64 treeSize)
        external
        view
        returns (bytes32 routingRoot, uint64 previousSize)
    {
        return (_routingRoots[treeSize], _checkpoints[treeSize].previousSize);
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

    // ---------------------------------------------------------------- commitments and cases

    /// @notice Publishes a commitment without the service, so the service cannot censor it.
    function commit(bytes32 commitment) external {
        emit DirectCommitment(commitment, msg.sender, uint64(block.timestamp));
    }

    function holds(bytes32 commitment, bytes32 agency) external view returns (bool) {
        return _holds[commitment][agency].holds;
    }

    function caseOpened(bytes32 commitment) external view returns (bool) {
        return _cases[commitment].opened;
    }

    /// @dev Requires `agency` to hold the case, opening it first if nobody has: the proof must
    /// show the case routed to `agency` in an anchored batch. Once open, proofs are ignored
    /// and holding follows referrals.
    function _requireHeld(bytes32 commitment, bytes32 agency, RoutingProof calldata proof)
        private
    {
        if (_cases[commitment].opened) {
            if (!_holds[commitment][agency].holds) revert CaseNotHeld(commitment, agency);
            return;
        }
        uint64 treeSize = proof.treeSize;
        if (treeSize == 0) revert CaseNotHeld(commitment, agency);
        bytes32 root = _routingRoots[treeSize];
        if (root == bytes32(0)) revert UnroutedCheckpoint(treeSize);
        uint64 batch = treeSize - _checkpoints[treeSize].previousSize;
        if (
            !RoutingVerifier.verify(
                commitment, agency, proof.salt, proof.index, batch, root, proof.path
            )
        ) {
            revert InvalidRoutingProof(commitment);
        }
        _cases[commitment].opened = true;
        _holds[commitment][agency].holds = true;
        emit CaseOpened(commitment, agency, treeSize, proof.index);
    }

    /// @notice Records the outcome of `agency`'s review; statuses 1..5 (0 means never
    /// reviewed). The sender must be a member of `agency` and `agency` must hold the case.
    function recordReview(
        bytes32 commitment,
        bytes32 agency,
        uint8 status,
        bytes32 noteDigest,
        RoutingProof calldata proof
    ) external {
        if (status == 0 || status > MAX_REVIEW_STATUS) revert InvalidReviewStatus(status);
        _requireMember(agency);
        _requireHeld(commitment, agency, proof);
        uint64 timestamp = uint64(block.timestamp);
        // Whole-slot writes: the flags are known to be set here.
        _cases[commitment] = Case(status, timestamp, msg.sender, true);
        _holds[commitment][agency] = Hold(status, timestamp, msg.sender, true);
        emit ReviewRecorded(commitment, agency, status, noteDigest, msg.sender, timestamp);
    }

    /// @notice Hands the case to `toAgency`; `fromAgency` keeps it only if `keepAccess`.
    /// The sender must be a member of `fromAgency`, which must hold the case.
    function refer(
        bytes32 commitment,
        bytes32 fromAgency,
        bytes32 toAgency,
        bool keepAccess,
        RoutingProof calldata proof
    ) external {
        _requireActive(toAgency);
        if (fromAgency == toAgency) revert SameAgency(toAgency);
        _requireMember(fromAgency);
        _requireHeld(commitment, fromAgency, proof);
        Hold storage target = _holds[commitment][toAgency];
        if (target.holds) revert AlreadyHolds(commitment, toAgency);
        target.holds = true;
        if (!keepAccess) _holds[commitment][fromAgency].holds = false;
        emit Referred(
            commitment, fromAgency, toAgency, keepAccess, msg.sender, uint64(block.timestamp)
        );
    }

    /// @notice The latest review of `commitment` by any agency; zeros if never reviewed.
    function reviewOf(bytes32 commitment)
        external
        view
        returns (uint8 status, uint64 timestamp, address reviewer)
    {
        Case storage c = _cases[commitment];
        return (c.status, c.timestamp, c.reviewer);
    }

    /// @notice The latest review of `commitment` by `agency`, even if it no longer holds it.
    function reviewBy(bytes32 commitment, bytes32 agency)
        external
        view
        returns (uint8 status, uint64 timestamp, address reviewer)
    {
        Hold storage h = _holds[commitment][agency];
        return (h.status, h.timestamp, h.reviewer);
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
