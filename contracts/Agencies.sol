// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title The agencies one TipLedger serves and their members (PROTOCOL.md sections 16.1, 16.2).
/// @notice The admin adds agencies and registers each member's address with their X25519 key,
/// so clients read an agency's current keys from the chain, never from the service alone.
abstract contract Agencies is AccessControl {
    struct MemberKey {
        address account;
        bytes32 encryptionKey;
    }

    /// @dev `exists` and `active` share the first slot, the only one an anchor reads.
    struct Agency {
        bool exists;
        bool active;
        // The names live only in AgencyAdded (they never change): a view returning strings would
        // copy memory with MCOPY, which Shanghai nodes lack, and storing them costs 20k a slot.
        MemberKey[] members; // the current members, in no order (swap-and-pop)
        mapping(address account => uint256) position; // index in members + 1; 0: not a member
    }

    /// @notice At most 2^16 agencies, so an anchor names each by a uint16 index.
    uint256 public constant MAX_AGENCIES = 65_536;

    mapping(bytes32 agency => Agency) private _agencies;
    /// @dev The agencies by index, the order they were added (never deleted, so an index always
    /// means the same agency).
    mapping(uint256 index => bytes32) private _agencyAt;
    /// @dev Declared last: it shares a slot with TipLedger's latest anchored size (storage
    /// packing runs on across the inheritance), so the anchor that reads one gets the other
    /// for free.
    uint32 internal _agencyCount;

    event AgencyAdded(bytes32 indexed agency, string nameTh, string nameEn);
    event AgencyActiveSet(bytes32 indexed agency, bool active);
    event MemberAdded(bytes32 indexed agency, address indexed member, bytes32 encryptionKey);
    event MemberRemoved(bytes32 indexed agency, address indexed member);

    error ZeroAddress();
    error ZeroKey();
    error InvalidAgencyId();
    error AgencyExists(bytes32 agency);
    error UnknownAgency(bytes32 agency);
    error AgencyInactive(bytes32 agency);
    error AlreadyMember(bytes32 agency, address member);
    error NotMember(bytes32 agency, address member);
    error TooManyAgencies();

    /// @notice Creates an active agency with the next index (its position in `agencyIds()`).
    /// Agencies are never deleted, only deactivated, so an id always means the same agency.
    function addAgency(bytes32 agency, string calldata nameTh, string calldata nameEn)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (agency == bytes32(0)) revert InvalidAgencyId();
        Agency storage a = _agencies[agency];
        if (a.exists) revert AgencyExists(agency);
        uint32 n = _agencyCount;
        if (n == MAX_AGENCIES) revert TooManyAgencies();
        a.exists = true;
        a.active = true;
        _agencyAt[n] = agency;
        _agencyCount = n + 1;
        emit AgencyAdded(agency, nameTh, nameEn);
    }

    /// @notice An inactive agency takes no referrals; its members keep their open cases.
    function setAgencyActive(bytes32 agency, bool active) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Agency storage a = _existing(agency);
        a.active = active;
        emit AgencyActiveSet(agency, active);
    }

    function addMember(bytes32 agency, address member, bytes32 encryptionKey)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        Agency storage a = _existing(agency);
        if (member == address(0)) revert ZeroAddress();
        if (encryptionKey == bytes32(0)) revert ZeroKey();
        if (a.position[member] != 0) revert AlreadyMember(agency, member);
        a.members.push(MemberKey(member, encryptionKey));
        a.position[member] = a.members.length;
        emit MemberAdded(agency, member, encryptionKey);
    }

    function removeMember(bytes32 agency, address member) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Agency storage a = _existing(agency);
        uint256 position = a.position[member];
        if (position == 0) revert NotMember(agency, member);
        uint256 last = a.members.length;
        if (position != last) {
            MemberKey storage moved = a.members[last - 1];
            a.members[position - 1] = moved;
            a.position[moved.account] = position;
        }
        a.members.pop();
        delete a.position[member];
        emit MemberRemoved(agency, member);
    }

    /// @notice Every agency ever added, by index.
    function agencyIds() external view returns (bytes32[] memory ids) {
        uint256 n = _agencyCount;
        ids = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            ids[i] = _agencyAt[i];
        }
    }

    /// @notice All zeros for an agency that does not exist; its names are in AgencyAdded.
    function agencyInfo(bytes32 agency)
        external
        view
        returns (bool exists, bool active, uint256 memberCount)
    {
        Agency storage a = _agencies[agency];
        return (a.exists, a.active, a.members.length);
    }

    /// @notice The agency's current members and their X25519 keys, side by side.
    function members(bytes32 agency)
        external
        view
        returns (address[] memory accounts, bytes32[] memory encryptionKeys)
    {
        MemberKey[] storage list = _agencies[agency].members;
        accounts = new address[](list.length);
        encryptionKeys = new bytes32[](list.length);
        for (uint256 i = 0; i < list.length; ++i) {
            accounts[i] = list[i].account;
            encryptionKeys[i] = list[i].encryptionKey;
        }
    }

    function isMember(bytes32 agency, address account) external view returns (bool) {
        return _agencies[agency].position[account] != 0;
    }

    /// @notice The agencies `account` is a member of now, in the order they were added.
    /// @dev Scans every agency: a view for clients, never called by a transaction.
    function membershipsOf(address account) external view returns (bytes32[] memory found) {
        uint256 n = _agencyCount;
        found = new bytes32[](n);
        uint256 k = 0;
        for (uint256 i = 0; i < n; ++i) {
            bytes32 agency = _agencyAt[i];
            if (_agencies[agency].position[account] != 0) found[k++] = agency;
        }
        // Shorten in place: k <= n, so the array only shrinks within its allocation.
        assembly ("memory-safe") {
            mstore(found, k)
        }
    }

    function _existing(bytes32 agency) private view returns (Agency storage a) {
        a = _agencies[agency];
        if (!a.exists) revert UnknownAgency(agency);
    }

    /// @dev Refuses an unknown or inactive agency (one that may not take a referral).
    function _requireActive(bytes32 agency) internal view {
        Agency storage a = _existing(agency);
        if (!a.active) revert AgencyInactive(agency);
    }

    /// @dev Membership implies existence (members join existing agencies, which are never
    /// deleted), so existence is read only to name the refusal.
    function _requireMember(bytes32 agency) internal view {
        Agency storage a = _agencies[agency];
        if (a.position[msg.sender] == 0) {
            if (!a.exists) revert UnknownAgency(agency);
            revert NotMember(agency, msg.sender);
        }
    }
}
