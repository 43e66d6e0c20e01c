// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title RFC 9162 section 2.1.4.2 consistency proof verification (PROTOCOL.md section 3).
/// @notice Hashes with the SHA-256 precompile: node_hash(l, r) = SHA-256(0x01 || l || r).
/// @dev Written in assembly because this loop is most of an anchor's execution cost: each step is
/// one or two precompile calls on buffers reused in place, reading proof nodes from calldata.
library ConsistencyVerifier {
    /// @notice True iff `proof` shows the tree (`second`, `secondRoot`) extends (`first`, `firstRoot`).
    /// @dev Follows the RFC step by step. `first == second` is not handled here (the contract
    /// never anchors an equal size) and returns false, as does `first == 0`.
    function verify(
        uint256 first,
        uint256 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] calldata proof
    ) internal view returns (bool ok) {
        // Step 1: an empty proof fails; sizes must be 0 < first < second.
        if (first == 0 || first >= second || proof.length == 0) return false;
        assembly ("memory-safe") {
            // Two hash inputs, 0x01 || left || right, past the free memory pointer (never
            // allocated, so memory-safe). The running hashes live in memory where the next hash
            // reads them, and the precompile writes each result straight back there:
            //   s: sr stays in the left half, as a right-sibling step needs it;
            //   f: fr stays in the right half, as every fr step is a left-sibling step.
            let s := mload(0x40)
            let f := add(s, 0x60)
            mstore8(s, 1)
            mstore8(f, 1)
            let off := proof.offset
            let end := add(off, shl(5, proof.length))
            // Step 2: if first is an exact power of two, the first root is prepended to the path.
            let start := firstRoot
            if and(first, sub(first, 1)) {
                start := calldataload(off)
                off := add(off, 32)
            }
            mstore(add(s, 1), start)
            mstore(add(f, 33), start)
            // Steps 3-4: fn and sn reuse first and second; shift both while fn is odd.
            first := sub(first, 1)
            second := sub(second, 1)
            for {} and(first, 1) {} {
                first := shr(1, first)
                second := shr(1, second)
            }
            // A precompile call fails only out of gas; fold the results instead of branching.
            ok := 1
            // The RFC fails if sn is 0 at the start of any step; sn never grows, so testing sn at
            // the start of the last step, once, is the same.
            let lastSn := 1
            // Step 6: walk the rest of the path.
            for {} lt(off, end) { off := add(off, 32) } {
                lastSn := second
                let c := calldataload(off)
                if or(and(first, 1), eq(first, second)) {
                    // c is a left sibling in both trees: fr = H(c || fr), sr = H(c || sr).
                    mstore(add(f, 1), c)
                    ok := and(ok, staticcall(gas(), 2, f, 65, add(f, 33), 32))
                    mstore(add(s, 33), mload(add(s, 1)))
                    mstore(add(s, 1), c)
                    ok := and(ok, staticcall(gas(), 2, s, 65, add(s, 1), 32))
                    // Then, if fn is even, shift both until fn is odd or zero.
                    if iszero(and(first, 1)) {
                        for {} and(iszero(and(first, 1)), iszero(iszero(first))) {} {
                            first := shr(1, first)
                            second := shr(1, second)
                        }
                    }
                    first := shr(1, first)
                    second := shr(1, second)
                    continue
                }
                // c is a right sibling, in the second tree only: sr = H(sr || c).
                mstore(add(s, 33), c)
                ok := and(ok, staticcall(gas(), 2, s, 65, add(s, 1), 32))
                first := shr(1, first)
                second := shr(1, second)
            }
            // Step 7: both roots reproduced and the second tree's path fully consumed.
            ok := and(
                and(ok, iszero(iszero(lastSn))),
                and(
                    and(eq(mload(add(f, 33)), firstRoot), eq(mload(add(s, 1)), secondRoot)),
                    iszero(second)
                )
            )
        }
    }
}
