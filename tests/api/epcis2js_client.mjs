// A third-party EPCIS 2.0 client, epcis2.js (tests/api/test_epcis2js_client.py): it builds an
// EPCISDocument with its own classes, sends it with its own capture() to the API's /epcis, and
// reads the capture job as it expects: CaptureResponse takes the Location header and polls
// GET {apiUrl}/capture/{last segment of Location} until `running` is false.
// argv[2] (JSON): apiUrl (the API's /epcis), key, serials (EPC serials), eventTime.
// Prints one JSON line: the document sent, Location, the job as epcis2.js read it, and the
// client's own hash id of each event (epcis2.js eventToHashedId).
import epcis from "epcis2.js"; // a CommonJS build: its exports come as the default

const { CaptureResponse, EPCISDocument, ObjectEvent, capture, eventToHashedId, setup } = epcis;

const args = JSON.parse(process.argv[2]);
setup({
  apiUrl: args.apiUrl,
  headers: { "content-type": "application/json", authorization: `Bearer ${args.key}` },
  // No `timeout`: epcis2.js races each request against a timer it never clears, which would
  // keep node alive that long after the work is done; the pytest bounds the process instead.
});

const document = new EPCISDocument();
document.setCreationDate(new Date().toISOString());
for (const serial of args.serials) {
  const event = new ObjectEvent()
    .setEventTime(args.eventTime)
    .setEventTimeZoneOffset("+02:00")
    .setAction("OBSERVE")
    .setBizStep("inspecting")
    .setDisposition("in_progress")
    .addEPC(`urn:epc:id:sgtin:0614141.107346.${serial}`);
  document.addEvent(event);
}

// Errors as one line: node would print the line of epcis2.js's minified bundle around them.
process.on("uncaughtException", (error) => {
  process.stderr.write(`epcis2.js: ${error?.stack ?? error}\n`);
  process.exit(1);
});
process.on("unhandledRejection", (error) => {
  process.stderr.write(`epcis2.js: ${error?.stack ?? error}\n`);
  process.exit(1);
});

const response = await capture(document); // validates the document first, as the SDK does
if (response.status !== 202) {
  throw new Error(`capture answered ${response.status}: ${await response.text()}`);
}
const job = new CaptureResponse(response); // throws without a Location header
await job.pollForTheCaptureToFinish(5, 200);
const sent = document.toObject();
process.stdout.write(
  JSON.stringify({
    sent,
    location: job.getLocation(),
    job: {
      running: job.getRunningStatus(),
      success: job.getSuccessStatus(),
      errors: job.getErrors(),
    },
    clientHashes: sent.epcisBody.eventList.map((event) => eventToHashedId(event, {})),
  }) + "\n",
);
