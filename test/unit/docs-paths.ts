// The file names docs/architecture.md mentions, checked against the tree: a
// backticked token that looks like a path (it holds a '/' or ends in .ts, .c,
// .h, .mjs or .proto) must name a file or folder of the repository, and a
// relative Markdown link must reach one. A token with a '/' is taken from the
// root (no leading '/': those are URLs and absolute paths of a node); a bare
// file name must exist somewhere in the tree. Inside fenced code blocks (the
// picture), every word ending in one of those extensions is checked the same
// way.
import fs from 'node:fs';
import path from 'node:path';

const SKIP_DIRS = new Set(['.git', 'node_modules', 'dist', 'build', 'gen']);
const PATH_CHARS = /^[A-Za-z0-9_.\-/]+$/;
const SOURCE_EXT = /\.(ts|c|h|mjs|proto)$/;

/** Every backticked token of a Markdown text that looks like a repository path. */
export function pathTokens(markdown: string): string[] {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/`([^`\n]+)`/g)) {
    const tok = m[1]!.trim();
    if (!PATH_CHARS.test(tok) || tok.startsWith('/')) continue;
    if (tok.includes('/') || SOURCE_EXT.test(tok)) out.add(tok);
  }
  return [...out];
}

/** Words ending in a source extension inside the fenced code blocks of a Markdown text. */
export function codeBlockPathTokens(markdown: string): string[] {
  const out = new Set<string>();
  for (const block of markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    for (const m of block[1]!.matchAll(/[A-Za-z0-9_.\-/]+\.(?:ts|c|h|mjs|proto)\b/g)) {
      if (!m[0].startsWith('/')) out.add(m[0]);
    }
  }
  return [...out];
}

/** Relative targets of Markdown links ([text](target)), anchors dropped. */
export function linkTargets(markdown: string): string[] {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!.split('#')[0]!;
    if (target && !/^[a-z]+:/.test(target)) out.add(target);
  }
  return [...out];
}

function baseNames(root: string): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(path.join(dir, e.name));
      } else names.add(e.name);
    }
  };
  walk(root);
  return names;
}

/** The tokens and links of `markdown` (a file at docFile under root) that name nothing in the tree. */
export function missingPaths(root: string, docFile: string, markdown: string): string[] {
  const names = baseNames(root);
  const missing: string[] = [];
  for (const tok of new Set([...pathTokens(markdown), ...codeBlockPathTokens(markdown)])) {
    const found = tok.includes('/') ? fs.existsSync(path.join(root, tok)) : names.has(tok);
    if (!found) missing.push(`\`${tok}\``);
  }
  for (const target of linkTargets(markdown)) {
    if (!fs.existsSync(path.resolve(path.dirname(path.join(root, docFile)), target))) missing.push(`(${target})`);
  }
  return missing;
}
