// A JavaScript integrator with ethers v6 and nothing but the API's answers
// (tests/api/test_api_ethers.py). Steps, from argv[2] (JSON):
//   fund:     the buyer and the payee sign the Terms typed data exactly as GET
//             /shipments/{id}/typed-data returns it, submit the signatures, and the buyer sends
//             the funding transaction GET /shipments/{id}/funding-tx prepares;
//   withdraw: the wallet sends the transaction GET /withdraw-tx prepares.
// Prints one JSON line: what it signed and sent.
import { JsonRpcProvider, Wallet } from "ethers";

const args = JSON.parse(process.argv[2]);
const provider = new JsonRpcProvider(args.rpcUrl, undefined, { staticNetwork: true });

async function api(method, path, key, body) {
  const response = await fetch(args.apiUrl + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${text}`);
  return JSON.parse(text); // JSON.parse: every number above 2^53 would already be wrong here
}

// The API's transaction is an eth_sendTransaction object; ethers calls the gas limit gasLimit.
async function send(wallet, tx) {
  const { gas, ...rest } = tx;
  const sent = await wallet.sendTransaction({ ...rest, gasLimit: gas });
  const receipt = await sent.wait();
  if (receipt.status !== 1) throw new Error(`transaction ${sent.hash} reverted`);
  return sent.hash;
}

async function sign(wallet, typedData) {
  const { EIP712Domain, ...types } = typedData.types;
  return wallet.signTypedData(typedData.domain, types, typedData.message);
}

async function fund() {
  const buyer = new Wallet(args.buyerPrivateKey, provider);
  const payee = new Wallet(args.payeePrivateKey, provider);
  const base = `/shipments/${args.shipmentId}`;
  const typedData = await api("GET", `${base}/typed-data`, args.buyerKey);
  for (const [wallet, key] of [[buyer, args.buyerKey], [payee, args.payeeKey]]) {
    const signature = await sign(wallet, typedData);
    await api("POST", `${base}/signatures`, key, { signature });
  }
  const funding = await api("GET", `${base}/funding-tx`, args.buyerKey);
  return { amount: typedData.message.amount, fundTx: await send(buyer, funding.tx) };
}

async function withdraw() {
  const wallet = new Wallet(args.privateKey, provider);
  const prepared = await api("GET", `/withdraw-tx?escrowVersion=${args.escrowVersion}`, args.key);
  return { owedWei: prepared.owedWei, withdrawTx: await send(wallet, prepared.tx) };
}

const result = args.step === "fund" ? await fund() : await withdraw();
process.stdout.write(JSON.stringify(result) + "\n");
