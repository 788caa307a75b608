import assert from "node:assert/strict";
import { decodeListing } from "../node/borg/_kernels/listing.ts";
import { CHACHA_WASM } from "../node/borg/_kernels/chacha_wasm.gen.ts";
import { KEYSTREAM_WASM } from "../node/borg/_kernels/keystream_wasm.gen.ts";
import { chachaWasm } from "./kernels/chacha_wasm.ts";
import { keystreamWasm } from "./kernels/keystream_wasm.ts";
import { KERNELS, REPO_ROOT } from "./gen_kernels.ts";

const decoder = new TextDecoder();

async function run(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/** A scratch root holding copies of the committed generated files. */
async function scratchRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "gen_kernels_test_" });
  for (const k of KERNELS) {
    const to = `${root}/${k.path}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${REPO_ROOT}${k.path}`, to);
  }
  return root;
}

Deno.test("deno task gen:kernels --check: the committed kernels equal their descriptions' output", async () => {
  const r = await run(["task", "--quiet", "gen:kernels", "--check"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 generated kernel files up to date, 0 written/);
});

Deno.test("gen_kernels.ts --check fails on an edited or missing kernel, and a run restores them byte for byte", async () => {
  const root = await scratchRoot();
  try {
    const [js, wasm] = KERNELS.map((k) => `${root}/${k.path}`) as [
      string,
      string,
    ];
    // One changed byte in the unrolled rounds, one in a module listing.
    const jsText = await Deno.readTextFile(js);
    await Deno.writeTextFile(js, jsText.replace("0x5807aa98", "0x5807aa99"));
    const wasmText = await Deno.readTextFile(wasm);
    await Deno.writeTextFile(
      wasm,
      wasmText.replace("fd ae 01 ", "fd ad 01 "),
    );
    const script = "scripts/gen_kernels.ts";
    let r = await run(["run", "-A", script, "--check", "--root", root]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /keystream_js\.gen\.ts: differs .* at line \d+/);
    assert.match(r.stderr, /keystream_wasm\.gen\.ts: differs .* at line \d+/);
    assert.match(r.stderr, /2 generated kernel file\(s\) out of date/);
    await Deno.remove(`${root}/${KERNELS[2]!.path}`);
    r = await run(["run", "-A", script, "--check", "--root", root]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /chacha_wasm\.gen\.ts: missing/);
    // A run without --check writes them back.
    r = await run(["run", "-A", script, "--root", root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /0 generated kernel files up to date, 3 written/);
    for (const k of KERNELS) {
      assert.equal(
        await Deno.readTextFile(`${root}/${k.path}`),
        await Deno.readTextFile(`${REPO_ROOT}${k.path}`),
        k.path,
      );
    }
    r = await run(["run", "-A", script, "--check", "--root", root]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the committed WebAssembly listings decode to the bytes the descriptions assemble", () => {
  assert.deepEqual(KEYSTREAM_WASM, keystreamWasm().bytes);
  assert.deepEqual(CHACHA_WASM, chachaWasm().bytes);
  assert.ok(WebAssembly.validate(KEYSTREAM_WASM));
  assert.ok(WebAssembly.validate(CHACHA_WASM));
});

Deno.test("decodeListing() skips notes and rejects anything but hex byte pairs", () => {
  assert.deepEqual(
    decodeListing("\n00 61 ;; a note\n   ;; only a note\nfd 0c ;; x\n"),
    new Uint8Array([0x00, 0x61, 0xfd, 0x0c]),
  );
  for (const bad of ["0g", "abc", "0", "AB", "00 ; x", "00,01"]) {
    assert.throws(() => decodeListing(bad), SyntaxError, bad);
  }
});
