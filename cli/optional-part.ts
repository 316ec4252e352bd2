// The lab and the benchmarks are parts of the repository's build, not of the
// agent's container image (it holds dist/control-plane and dist/cli only).
// Their commands load them on demand; a part that is absent is said so
// plainly instead of as a module-resolution stack trace.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Part = 'lab' | 'bench';

/** A command needs a part that this installation does not have. */
export class MissingPart extends Error {
  constructor(readonly part: Part, readonly dir: string) {
    super(`${part} is not in this image (${dir} is missing): it comes with the repository's build (npm run build), not with the agent's container image`);
  }
}

/** dist/ when compiled (dist/cli/optional-part.js), the repository when run from sources. */
function buildRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

/**
 * Imports one of a part's modules; a missing part becomes MissingPart.
 * Only the part's own files count as "missing": a dependency the part
 * cannot find (a broken install) keeps its original error.
 */
export async function importPart<M>(part: Part, load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (err) {
    const dir = path.join(buildRoot(), part);
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(`${dir}${path.sep}`)) throw new MissingPart(part, dir);
    throw err;
  }
}
