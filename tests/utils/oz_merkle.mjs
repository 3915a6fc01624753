// Reference oracle for tests/core/test_merkle.py: @openzeppelin/merkle-tree StandardMerkleTree.
// One process serves many requests: each stdin line is a JSON request, each stdout line its answer.
// request: {"cases": [{"values": [["0x<leafV1>", kind, "0x<eventHash>", "0x<salt>"], ...],
//                      "proofs": true}, ...]}
// answer:  {"results": [{"root", "tree", "leafHashes", "proofs"}, ...]} (per value, input order)
// A request that throws is answered with {"error": "<message>"}.
import { createInterface } from "node:readline";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const ENCODING = ["bytes32", "uint8", "bytes32", "bytes32"];

function build({ values, proofs = true }) {
  const tree = StandardMerkleTree.of(values, ENCODING);
  const dumped = tree.dump();
  return {
    root: tree.root,
    tree: dumped.tree,
    leafHashes: dumped.values.map((v) => dumped.tree[v.treeIndex]),
    proofs: proofs ? values.map((_, i) => tree.getProof(i)) : null,
  };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = { results: JSON.parse(line).cases.map(build) };
  } catch (err) {
    answer = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
