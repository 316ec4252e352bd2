// Which part of the repository may import which: the product (control-plane/)
// stands alone, the lab and the benchmarks use it, cli/ composes them all.
// The import graph is read with the TypeScript compiler's parser, so every
// form counts: static imports and re-exports, `import type`, dynamic
// `import()`, `import('...').T` types and require(). An import whose target
// is not a string literal cannot be checked and is reported too.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The top-level folders a part must not import from. */
export const FORBIDDEN_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  'control-plane': ['lab', 'bench', 'cli', 'test'],
  lab: ['bench', 'cli', 'test'],
  // bench/ drives labs and reuses test helpers (test/loader/lab.ts): only the CLI is out of bounds.
  bench: ['cli'],
};

export interface ImportViolation {
  /** The importing file, relative to the root. */
  file: string;
  line: number;
  specifier: string;
  /** The part it reaches, or "?" for a target that is not a literal. */
  reaches: string;
}

function tsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(c|m)?tsx?$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Every module specifier of a file, with its line; null for a non-literal one. */
export function moduleSpecifiers(fileName: string, text: string): Array<{ specifier: string | null; line: number }> {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: Array<{ specifier: string | null; line: number }> = [];
  const add = (node: ts.Node, expr: ts.Node | undefined): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    found.push({ specifier: expr && ts.isStringLiteralLike(expr) ? expr.text : null, line });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) add(node, node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(node, node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The top-level folder a relative or absolute specifier lands in (dist/<part> counts as <part>). */
function partOf(root: string, fromFile: string, specifier: string): string | undefined {
  let target: string;
  if (specifier.startsWith('file:')) target = new URL(specifier).pathname;
  else if (specifier.startsWith('.') || path.isAbsolute(specifier)) target = path.resolve(path.dirname(fromFile), specifier);
  else return undefined; // a package or node: builtin
  const rel = path.relative(root, target).split(path.sep);
  if (rel[0] === '..') return undefined;
  return rel[0] === 'dist' ? rel[1] : rel[0];
}

/** The imports under root that go against FORBIDDEN_IMPORTS (or `rules`). */
export function importViolations(root: string, rules: Readonly<Record<string, readonly string[]>> = FORBIDDEN_IMPORTS): ImportViolation[] {
  const out: ImportViolation[] = [];
  for (const [part, forbidden] of Object.entries(rules)) {
    for (const file of tsFiles(path.join(root, part))) {
      for (const { specifier, line } of moduleSpecifiers(file, fs.readFileSync(file, 'utf8'))) {
        const rel = path.relative(root, file);
        if (specifier === null) {
          out.push({ file: rel, line, specifier: '(not a string literal)', reaches: '?' });
          continue;
        }
        const reaches = partOf(root, file, specifier);
        if (reaches !== undefined && forbidden.includes(reaches)) out.push({ file: rel, line, specifier, reaches });
      }
    }
  }
  return out;
}
