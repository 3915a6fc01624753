// ethers v6 side of the pinned escrow v2 vector (tests/core/test_eip712_v2.py).
// Reads tests/vectors/escrow_v2.json (path in argv[2]); builds the EIP-712 types from the
// vector's type strings; prints {termsHash, termsDigest, attestationDigest, termsSigner,
// attestationSigner} as one JSON line for the Python test to compare with the vector.
import { readFileSync } from "node:fs";
import { TypedDataEncoder, verifyTypedData } from "ethers";

const vector = JSON.parse(readFileSync(process.argv[2], "utf8"));

function fields(typeString) {
  const inner = typeString.slice(typeString.indexOf("(") + 1, -1);
  return inner.split(",").map((member) => {
    const [type, name] = member.split(" ");
    return { name, type };
  });
}

const termsTypes = { Terms: fields(vector.typeStrings.Terms) };
const attestationTypes = {
  DeliveryAttestation: fields(vector.typeStrings.DeliveryAttestation),
};
// amount is a JSON string in the vector (a JS number would round it): ethers takes a BigInt.
const terms = { ...vector.terms, amount: BigInt(vector.terms.amount) };
const attestation = vector.attestation;

process.stdout.write(
  JSON.stringify({
    termsHash: TypedDataEncoder.hashStruct("Terms", termsTypes, terms),
    termsDigest: TypedDataEncoder.hash(vector.domain, termsTypes, terms),
    attestationDigest: TypedDataEncoder.hash(vector.domain, attestationTypes, attestation),
    termsSigner: verifyTypedData(vector.domain, termsTypes, terms, vector.termsSignature),
    attestationSigner: verifyTypedData(
      vector.domain,
      attestationTypes,
      attestation,
      vector.attestationSignature,
    ),
  }) + "\n",
);
