import { marshalGo, quoteGoFast } from "./_go_json.ts";
import {
  decodeMessage,
  encodeMessage,
  newMessage,
  parsePayload,
} from "./message.ts";

const data = "x".repeat(1024);
const msg = newMessage("bench", {
  from: "aaa8fff703b50b2297f4f6e13508f724",
  to: "4457134794559182226754e9dd2f1083",
  payload: { n: 1, data },
});
const text = encodeMessage(msg);
const ping = encodeMessage(
  newMessage("ping", { from: "a", to: "b", payload: { sentAt: Date.now() } }),
);

Deno.bench({
  group: "encode 1 KB message",
  name: "encodeMessage",
  baseline: true,
}, () => {
  encodeMessage(msg);
});
Deno.bench(
  {
    group: "encode 1 KB message",
    name: "encodeMessage + quoting as an SMSG body (what a frame needs)",
  },
  () => {
    quoteGoFast(encodeMessage(msg), true);
  },
);
Deno.bench(
  { group: "encode 1 KB message", name: "marshalGo (escapeHtml off)" },
  () => {
    marshalGo({ ...msg }, { escapeHtml: false });
  },
);
Deno.bench(
  { group: "decode", name: "decodeMessage 1 KB", baseline: true },
  () => {
    decodeMessage(text);
  },
);
Deno.bench(
  { group: "decode", name: "decodeMessage + parsePayload(ping)" },
  () => {
    parsePayload(decodeMessage(ping), "ping");
  },
);
Deno.bench({ name: "newMessage(ping)" }, () => {
  newMessage("ping", { from: "a", to: "b", payload: { sentAt: 1 } });
});
