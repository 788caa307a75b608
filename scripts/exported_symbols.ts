/**
 * Lists the package's exported symbols (name, kind and, for classes and
 * interfaces, their public member names), one a line, sorted, from
 * `deno doc --json` over each entry point in `deno.json` `exports`.
 *
 * Used to check that a refactor keeps the public surface: run it before and
 * after, and `diff` the two outputs.
 *
 * ```sh
 * deno run -A scripts/exported_symbols.ts > /tmp/after.txt
 * ```
 *
 * @module
 */

interface DocNode {
  name: string;
  kind: string;
  declarations?: DocDeclaration[];
  def?: DocDef;
}
interface DocDeclaration {
  kind: string;
  def?: DocDef;
}
interface DocDef {
  extends?: string | { name?: string; repr?: string };
  properties?: { name: string }[];
  methods?: { name: string; isStatic?: boolean }[];
  constructors?: unknown[];
  members?: { name: string }[];
}

const config = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
) as { exports: Record<string, string> };

const lines: string[] = [];

/** Member names of a declaration, its exported base classes' included. */
function members(
  def: DocDef | undefined,
  classes: Map<string, DocDef>,
  depth = 0,
): string[] {
  if (def === undefined || depth > 10) return [];
  const own = [
    ...(def.properties ?? []).map((p) => p.name),
    ...(def.methods ?? []).map((m) =>
      `${m.isStatic ? "static " : ""}${m.name}`
    ),
    ...(def.members ?? []).map((m) => m.name),
  ];
  const ext = def.extends;
  const base = typeof ext === "string"
    ? ext.replace(/<.*$/, "")
    : ext?.name ?? ext?.repr?.replace(/<.*$/, "");
  return base === undefined
    ? own
    : [...own, ...members(classes.get(base), classes, depth + 1)];
}

for (const [entry, file] of Object.entries(config.exports)) {
  const path = new URL(`../${file}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", path],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exit(1);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols?: DocNode[] }>;
  };
  const symbols = Object.values(doc.nodes).flatMap((m) => m.symbols ?? []);
  const classes = new Map<string, DocDef>();
  for (const symbol of symbols) {
    for (const decl of symbol.declarations ?? []) {
      if (decl.kind === "class" && decl.def) classes.set(symbol.name, decl.def);
    }
  }
  for (const symbol of symbols) {
    for (const decl of symbol.declarations ?? [symbol]) {
      lines.push(`${entry} ${symbol.name} ${decl.kind}`);
      for (const m of members(decl.def, classes)) {
        lines.push(`${entry} ${symbol.name}.${m}`);
      }
    }
  }
}
console.log([...new Set(lines)].sort().join("\n"));
