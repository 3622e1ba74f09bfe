/**
 * Files a user named, read whole only when they are regular files of a bounded size, written whole or not at all,
 * and every I/O failure as a one-line reason (issue 12, item 4): what the CLI and the gateway read and write
 * (models, sensor declarations, checkpoints, reports, the gateway's snapshots). Node-only.
 */
import { randomBytes } from "node:crypto";
import { constants as bufferConstants } from "node:buffer";
import { closeSync, constants, fstatSync, openSync, readSync, readdirSync, rmSync, type Stats } from "node:fs";
import { mkdir, open, realpath, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { PhasorError, type ErrorCode } from "./errors.js";

/** A kind of file that is read whole: what messages call it, the most bytes it may hold and why, the error code. */
export interface WholeFileKind {
  /** "the model file", "the checkpoint" */
  what: string;
  maxBytes: number;
  /** why no file of the kind is larger, for the refusal: "the largest image a wasm engine holds" */
  why: string;
  code: ErrorCode;
}

/** A file refused for what it is (not a regular file, or larger than its kind can be), not for a failed read. */
export class UnfitFileError extends PhasorError {}

/**
 * Opens a file that is read to its end, refusing, before a byte is read, anything but a regular file: a FIFO
 * (whose reads wait for a writer that may never come), a device such as /dev/zero (whose reads never end), a
 * directory or a socket. O_NONBLOCK makes the open itself return at once for a FIFO without a writer, where a
 * plain open would wait; for a regular file it changes nothing. Checked on the opened descriptor, so the file
 * cannot be swapped between the check and the read. Returns the descriptor and its stat; the caller closes it.
 */
export function openRegularFile(path: string, kind: Pick<WholeFileKind, "what" | "code">): { fd: number; stats: Stats } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new PhasorError(kind.code, `${path}: cannot read ${kind.what}: ${ioReason(err)}`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new UnfitFileError(kind.code, `${path}: cannot read ${kind.what}: ${notRegular(stats, kind.what)}`);
    return { fd, stats };
  } catch (err) {
    closeSync(fd);
    throw err instanceof PhasorError ? err : new PhasorError(kind.code, `${path}: cannot read ${kind.what}: ${ioReason(err)}`);
  }
}

function notRegular(stats: Stats, what: string): string {
  if (stats.isDirectory()) return "it is a directory";
  const kind = stats.isFIFO() ? "a FIFO (named pipe)" : stats.isCharacterDevice() ? "a character device" : stats.isBlockDevice() ? "a block device" : "a socket";
  return `it is ${kind}, not a regular file: ${what} is read whole, and a pipe or a device may never end`;
}

/**
 * The bound of every JSON file read whole (a float model, a checkpoint, a sensor declaration): JSON.parse takes one
 * string, V8 makes none longer than MAX_STRING_LENGTH UTF-16 units (2^29 - 24 in node 20), and UTF-8 never takes
 * fewer bytes than units, so a file within this many bytes always decodes, and a larger one could not be parsed.
 */
export const JSON_FILE_LIMIT = { maxBytes: bufferConstants.MAX_STRING_LENGTH, why: "the longest string V8 makes, which JSON.parse needs" } as const;

/** Bytes read at a time past a file's stated size. */
const READ_ON_BYTES = 1 << 16;

/**
 * A regular file's bytes, refused as openRegularFile refuses a file, and refused unread when it holds more than
 * `kind.maxBytes`. A file that grows while it is read is read on to its end (files under /proc state 0 bytes),
 * refused once it passes the bound, so no file makes this read without end or allocate past the bound.
 */
export function readWholeFile(path: string, kind: WholeFileKind): Uint8Array<ArrayBuffer> {
  const { fd, stats } = openRegularFile(path, kind);
  const tooLarge = (bytes: number) =>
    new UnfitFileError(kind.code, `${path}: cannot read ${kind.what}: it holds ${bytes}${bytes > stats.size ? " or more" : ""} bytes, over the bound of ${kind.maxBytes} (${kind.why})`);
  try {
    if (stats.size > kind.maxBytes) throw tooLarge(stats.size);
    const start = Buffer.allocUnsafe(stats.size);
    let got = 0;
    for (let n = -1; got < start.length && n !== 0; got += n) n = readSync(fd, start, got, start.length - got, null);
    if (got < start.length) return start.subarray(0, got);
    const more: Buffer[] = [start];
    let total = got;
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_ON_BYTES);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return more.length === 1 ? start : Buffer.concat(more, total);
      total += n;
      if (total > kind.maxBytes) throw tooLarge(total);
      more.push(chunk.subarray(0, n));
    }
  } catch (err) {
    throw err instanceof PhasorError ? err : new PhasorError(kind.code, `${path}: cannot read ${kind.what}: ${ioReason(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** Partial files being written now: removed by removePartialFiles when the process has to stop at once. */
const partialFiles = new Set<string>();

/**
 * Writes `bytes` to `path` so that readers see the old file or the whole new one, never a part: the bytes go to a
 * new file beside it (same directory, so same file system), are flushed to disk, and only then renamed over
 * `path`. On any failure the partial file is removed and `path` is left as it was. A file that cannot be created
 * there, or a `path` that is not a regular file (a directory, a device such as /dev/full, a pipe: renaming over
 * it would replace it), is a "bad-args" PhasorError; a failure while writing (disk full) is "runtime". A symbolic
 * link is followed: the file it points to is replaced, the link kept.
 */
export async function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await writeFilesAtomically([{ path, bytes }]);
}

/**
 * Files that belong together (a C header and its source), each written as writeFileAtomically writes one, and
 * none of them replaced until every one is whole on disk: a failure on any leaves all of them as they were.
 */
export async function writeFilesAtomically(files: readonly { path: string; bytes: Uint8Array }[]): Promise<void> {
  const targets: string[] = [];
  for (const { path } of files) targets.push(await outputTarget(path));
  const partials: string[] = [];
  try {
    for (let k = 0; k < files.length; k++) partials.push(await writePartial(files[k].path, targets[k], files[k].bytes));
    while (partials.length > 0) {
      const k = files.length - partials.length;
      await rename(partials[0], targets[k]).catch((err) => {
        throw new PhasorError("runtime", `${files[k].path}: cannot write: ${ioReason(err)}`);
      });
      partialFiles.delete(partials.shift() as string);
    }
  } finally {
    for (const partial of partials) {
      await rm(partial, { force: true });
      partialFiles.delete(partial);
    }
  }
}

/** `bytes` in a new file beside `target`, flushed to disk; its path. */
async function writePartial(path: string, target: string, bytes: Uint8Array): Promise<string> {
  const partial = join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`);
  // the name PARTIAL_FILE finds again, should the process be killed before it is renamed
  let handle: FileHandle;
  try {
    handle = await open(partial, "wx");
  } catch (err) {
    throw new PhasorError("bad-args", `${path}: cannot create a file in ${dirname(target)}: ${ioReason(err)}`);
  }
  partialFiles.add(partial);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    partialFiles.delete(partial);
    throw new PhasorError("runtime", `${path}: cannot write: ${ioReason(err)}`);
  }
  return partial;
}

/** The name of the file writeFileAtomically writes beside its target before the rename. */
const PARTIAL_FILE = /^\..+\.\d+-[0-9a-f]{8}\.partial$/;

/**
 * Removes from `folder` the partial files of writeFileAtomically that a killed process left behind (SIGKILL, out
 * of memory, power loss between the write and the rename), each as large as the file it was to replace. Only for a
 * folder that no running process writes to (one a lock gives to the caller alone); a failure is a one-line
 * "runtime" PhasorError naming the file.
 */
export function removeStalePartialFiles(folder: string): void {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (err) {
    throw new PhasorError("runtime", `${folder}: cannot list the folder: ${ioReason(err)}`);
  }
  for (const name of names.filter((n) => PARTIAL_FILE.test(n))) {
    try {
      rmSync(join(folder, name), { force: true });
    } catch (err) {
      throw new PhasorError("runtime", `${join(folder, name)}: cannot remove a partial file: ${ioReason(err)}`);
    }
  }
}

/** Where writeFileAtomically(path) writes: the path, or the file a symbolic link there points to. */
async function outputTarget(path: string): Promise<string> {
  const target = await realpath(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return resolve(path);
    throw new PhasorError("bad-args", `${path}: cannot write there: ${ioReason(err)}`);
  });
  const kind = await stat(target).catch(() => undefined);
  if (kind !== undefined && !kind.isFile()) {
    throw new PhasorError("bad-args", `${path}: cannot write there: ${kind.isDirectory() ? "it is a directory" : "not a regular file"}`);
  }
  return target;
}

/**
 * Fails before any work on an output file that can never be written: a directory or other non-regular file, or
 * a file in a folder that does not exist or that cannot be written. `flag` names it in the message.
 */
export async function checkOutputFile(path: string, flag: string): Promise<void> {
  const target = await outputTarget(path).catch((err: PhasorError) => {
    throw new PhasorError("bad-args", `${flag} ${err.message}`);
  });
  const folder = dirname(target);
  const probe = join(folder, `.${basename(target)}.${process.pid}-${randomBytes(4).toString("hex")}.probe`);
  try {
    await (await open(probe, "wx")).close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ENOTDIR" ? "its folder does not exist" : `cannot create a file in ${folder}: ${ioReason(err)}`;
    throw new PhasorError("bad-args", `${flag} ${path}: ${why}`);
  }
  await rm(probe, { force: true });
}

/**
 * Removes the partial files of the writes under way, for a process that must stop before they finish (its
 * stdout failed): the files a user named are left as they were, and nothing half-written stays beside them.
 */
export function removePartialFiles(): void {
  for (const partial of partialFiles) rmSync(partial, { force: true });
  partialFiles.clear();
}

/**
 * Creates a folder and any missing parents, as `mkdir -p`. Each level is made on its own (node's recursive
 * mkdir never returns for a path under /proc), so the loop ends after one pass up and one down; a failure is a
 * "bad-args" PhasorError naming the folder.
 */
export async function makeFolder(path: string, flag: string): Promise<void> {
  const missing: string[] = [];
  for (let folder = resolve(path); ; folder = dirname(folder)) {
    const kind = await stat(folder).catch((err: NodeJS.ErrnoException) => {
      // a file on the way up is found, and named, one level further
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
      throw new PhasorError("bad-args", `${flag} ${path}: cannot create the folder: ${ioReason(err)}`);
    });
    if (kind !== undefined && !kind.isDirectory()) throw new PhasorError("bad-args", `${flag} ${path}: ${folder} is not a folder`);
    if (kind !== undefined || dirname(folder) === folder) break;
    missing.push(folder);
  }
  for (const level of missing.reverse()) {
    await mkdir(level).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EEXIST") return;
      throw new PhasorError("bad-args", `${flag} ${path}: cannot create the folder ${level}: ${ioReason(err)}`);
    });
  }
}

export function ioReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  if (code === "ENOTDIR") return "a part of the path is not a directory";
  if (code === "EROFS") return "read-only file system";
  if (code === "ENOSPC") return "no space left on the device";
  if (code === "EDQUOT") return "disk quota exceeded";
  if (code === "EIO") return "input/output error";
  if (code === "EPIPE") return "the reader went away";
  if (code === "ELOOP") return "too many levels of symbolic links";
  if (code === "ENAMETOOLONG") return "the name is too long";
  if (code === "EMFILE" || code === "ENFILE") return "too many open files";
  if (code === "EFBIG") return "the file is too large";
  return (err as Error).message;
}
