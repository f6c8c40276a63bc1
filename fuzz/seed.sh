#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/seeds/<target>/ from the shared test fixtures (tests/fixtures/batches)
# and the golden vectors of the hub protocol tests (runtime/src/hub/protocol/tests.rs). The seeds are committed;
# run this after the fixtures change. tests/fuzz copies them into the working corpora (fuzz/corpus, ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf fuzz/seeds
node --input-type=module - <<'JS'
import fs from "node:fs";
import path from "node:path";

const RS = "\x1e";
const out = (target, name, text) => {
  const dir = path.join("fuzz/seeds", target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), text);
};
const fixtureDir = "tests/fixtures/batches";
const fixtures = fs.readdirSync(fixtureDir).filter((f) => f.endsWith(".json")).sort()
  .map((f) => [path.basename(f, ".json"), JSON.parse(fs.readFileSync(path.join(fixtureDir, f), "utf8"))]);

// Golden hub messages: the raw-string wire lines of the protocol unit tests (`r#"{...}"#`).
const protocolSource = fs.readFileSync("runtime/src/hub/protocol/tests.rs", "utf8");
const golden = [...protocolSource.matchAll(/r#"(\{.*?\})"#/g)].map((m) => m[1]);
const messages = golden.filter((g) => g.includes('"type"'));
const handshakes = golden.filter((g) => g.includes('"protocol"'));

// hub_records: first byte picks the frame size; then records separated by 0x1E.
messages.forEach((m, i) => out("hub_records", `golden-${i}`, String.fromCharCode(1 + (i % 60)) + m + RS));
out("hub_records", "golden-all", "\x07" + messages.join(RS) + RS + '{"type":1,"target":"x"');
for (const [name, f] of fixtures) {
  const records = f.batches.map((b, i) =>
    JSON.stringify({ type: 1, target: "T.Batch", arguments: [i + 1, JSON.stringify(b)] }));
  out("hub_records", `batch-${name}`, "\x10" + records.join(RS) + RS);
}

// hub_handshake
[...handshakes, '{"protocol":"json","version":2}', "[1,2]", '{"protocol":"messagepack","version":1}',
  '{"protocol":"json","version":3}', '{"protocol":1,"version":1}', "{}"]
  .forEach((h, i) => out("hub_handshake", `handshake-${i}`, h + RS));

// hub_msgpack: first byte picks the frame size; then the length-prefixed messages of the golden MessagePack
// vectors (runtime/src/hub/protocol/msgpack_tests.rs, `"96 01 80 …"` hex strings), one seed each and all
// together, plus one announcing more than the target's limit.
const msgpackSource = fs.readFileSync("runtime/src/hub/protocol/msgpack_tests.rs", "utf8");
const prefixed = (body) => {
  const out = [];
  for (let n = body.length; ; n >>= 7) {
    if (n < 0x80) { out.push(n); break; }
    out.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from(out), body]);
};
const msgpackGolden = [...msgpackSource.matchAll(/"((?:[0-9a-f]{2} )+[0-9a-f]{2})"/g)]
  .map((m) => prefixed(Buffer.from(m[1].replace(/ /g, ""), "hex")));
msgpackGolden.forEach((m, i) => out("hub_msgpack", `golden-${i}`, Buffer.concat([Buffer.from([1 + (i % 60)]), m])));
out("hub_msgpack", "golden-all", Buffer.concat([Buffer.from([5]), ...msgpackGolden]));
out("hub_msgpack", "too-large", Buffer.from([3, 0x81, 0x40, 0x91]));

// markup_tree: consecutive renders of each fixture, NUL between them.
// A batch is an array of edits (protocol version 2); op 11 attaches a root with its markup.
const attachMarkup = (batch) => batch.find((e) => e[0] === 11)?.[2] ?? null;
for (const [name, f] of fixtures) {
  const first = attachMarkup(f.batches[0]) ?? f.html[0];
  const last = f.html[f.html.length - 1];
  // The fuzzed component binds no handlers, so the browser-side handler attributes are left out.
  const unbound = (html) => html.replace(/ t-[a-z]+="[^"]*"/g, "");
  out("markup_tree", `render-${name}`, unbound(first) + "\0" + unbound(last));
}

// event_payload: DispatchEvent argument arrays for the harness component's handlers (ids in render order).
const events = [
  [1, "submit", { fields: { name: "Ann", tags: ["a", "b"] } }],
  [2, "click", { clientX: 3, clientY: 4.5, button: 0, detail: 1, shiftKey: true }],
  [3, "input", { value: "abc" }],
  [4, "keydown", { key: "Enter", code: "Enter", repeat: false, location: 0 }],
  [5, "change", { value: "on", checked: true, values: ["a"] }],
  [6, "focus", {}],
  [2, "input", { value: 5 }],
  [99, "click", {}],
];
events.forEach((e, i) => out("event_payload", `event-${i}`, JSON.stringify(e)));

// chunked: limit byte (x16 bytes), then string chunks of a DispatchEvent call, one JSON value per line.
events.forEach((e, i) => {
  const text = JSON.stringify(e);
  const chunks = [];
  for (let at = 0; at < text.length; at += 7) chunks.push(JSON.stringify(text.slice(at, at + 7)));
  out("chunked", `event-${i}`, String.fromCharCode(4 + i * 8) + chunks.join("\n"));
});

// batch_ack: limit byte, then "render" or an OnRenderCompleted argument array per line.
out("batch_ack", "in-order", "\x03render\nrender\n[1,null]\nrender\n[3]\n[2]\nrender\n");
out("batch_ack", "limit", "\x02render\nrender\nrender\n[2,null]\nrender\n");
out("batch_ack", "future", "\x04render\n[5,null]\n");
out("batch_ack", "failed", '\x04render\n[1,"TypeError: x is undefined"]\n');

// descriptor_secret: a well-formed secret line (48 bytes, base64url), then descriptor-shaped tokens.
const secret = Buffer.alloc(48, 7).toString("base64url");
const payload = Buffer.from(JSON.stringify({ c: "Counter", p: { start: 1 },
  i: Buffer.alloc(16, 1).toString("base64url"), s: 0, x: 4102444800000 }))
  .toString("base64url");
out("descriptor_secret", "secret-only", secret);
out("descriptor_secret", "forged", `${secret}\n${payload}.${Buffer.alloc(32, 9).toString("base64url")}`);
out("descriptor_secret", "garbage", "not-a-secret\nabc\n.\n" + payload);
JS
echo "seeds: $(find fuzz/seeds -type f | wc -l) files in fuzz/seeds/"
