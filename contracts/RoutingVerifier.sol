// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title RFC 9162 section 2.1.3.2 inclusion verification of a route leaf (PROTOCOL.md 16.4).
/// @notice A route leaf is commitment || agency || salt (96 bytes); its leaf hash is
/// SHA-256(0x00 || leaf) and node_hash(l, r) = SHA-256(0x01 || l || r), by the SHA-256
/// precompile.
/// @dev Assembly, as in ConsistencyVerifier: one precompile call per path node on one buffer,
/// reading the path from calldata.
library RoutingVerifier {
    /// @notice True iff `path` leads from route leaf (`commitment`, `agency`, `salt`) at `index`
    /// of a tree of `size` leaves to `root`.
    function verify(
        bytes32 commitment,
        bytes32 agency,
        bytes32 salt,
        uint256 index,
        uint256 size,
        bytes32 root,
        bytes32[] calldata path
    ) internal view returns (bool ok) {
        if (index >= size) return false;
        assembly ("memory-safe") {
            // A buffer past the free memory pointer (never allocated, so memory-safe); the
            // precompile writes each hash to scratch space, where r is read back from.
            let m := mload(0x40)
            mstore8(m, 0)
            mstore(add(m, 1), commitment)
            mstore(add(m, 33), agency)
            mstore(add(m, 65), salt)
            ok := staticcall(gas(), 2, m, 97, 0, 32)
            let r := mload(0)
            mstore8(m, 1)
            // fn and sn of the RFC reuse index and size - 1.
            let sn := sub(size, 1)
            let off := path.offset
            let end := add(off, shl(5, path.length))
            for {} lt(off, end) { off := add(off, 32) } {
                // The RFC fails if sn is 0 before a step: the path is too long.
                if iszero(sn) {
                    ok := 0
                    break
                }
                let p := calldataload(off)
                switch or(and(index, 1), eq(index, sn))
                case 0 {
                    // p is a right sibling: r = H(r || p).
                    mstore(add(m, 1), r)
                    mstore(add(m, 33), p)
                }
                default {
                    // p is a left sibling: r = H(p || r); then skip the levels where this
                    // node is a right-edge node with no sibling.
                    mstore(add(m, 1), p)
                    mstore(add(m, 33), r)
                    if iszero(and(index, 1)) {
                        for {} and(iszero(and(index, 1)), iszero(iszero(index))) {} {
                            index := shr(1, index)
                            sn := shr(1, sn)
                        }
                    }
                }
                // A precompile call fails only out of gas; fold the results instead of branching.
                ok := and(ok, staticcall(gas(), 2, m, 65, 0, 32))
                r := mload(0)
                index := shr(1, index)
                sn := shr(1, sn)
            }
            ok := and(ok, and(iszero(sn), eq(r, root)))
        }
    }
}
