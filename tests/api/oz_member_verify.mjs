// A consumer with OpenZeppelin's merkle-tree library and nothing but the resolver's JSON
// (tests/api/test_public_view_proofs.py). argv[2]: the item's public JSON. For each history entry
// with a proof, prints what the library says: the kind 2 leaf it builds from
// [MEMBER_V1, 2, eventKind, projectionHash, salt] and whether StandardMerkleTree.verify accepts
// the proof against the entry's root.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, standardLeafHash } from "@openzeppelin/merkle-tree/dist/hashes.js";

const ENCODING = ["bytes32", "uint8", "uint8", "bytes32", "bytes32"];
const MEMBER_V1 = keccak256(new TextEncoder().encode("chaintrace.member.v1"));

const view = JSON.parse(process.argv[2]);
const results = view.history
  .filter((entry) => entry.proof)
  .map((entry) => {
    const value = [MEMBER_V1, 2, entry.eventKind, entry.projectionHash, entry.salt];
    return {
      projectionHash: entry.projectionHash,
      leaf: standardLeafHash(ENCODING, value),
      verified: StandardMerkleTree.verify(entry.root, ENCODING, value, entry.proof),
    };
  });
process.stdout.write(JSON.stringify({ memberV1: MEMBER_V1, results }) + "\n");
