/**
 * The CLI's file input and output: a text file read as a stream of byte chunks (files of any size, or stdin),
 * NDJSON lines written in large chunks that respect the output's backpressure, output files that appear whole
 * or not at all, and every I/O failure as a one-line PhasorError (issue 12, item 4).
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { mkdir, open, realpath, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { PhasorError, badInput } from "../host/errors.js";
import { DEFAULT_MAX_LINE_BYTES, MAX_LINE_BYTES_LIMIT, type EventParser } from "../host/engine/events.js";
import type { FlagSpec } from "./command.js";

export interface TextInput {
  /** the name messages give the input: the path, or "stdin" */
  name: string;
  /** the file's bytes: the event reader splits lines and decodes them (EventParser.pushBytes) */
  chunks: AsyncIterable<Uint8Array>;
}

const READ_CHUNK_BYTES = 1 << 16;

/**
 * Opens a text file, or stdin for "-". A file that cannot be opened is a "bad-input" PhasorError here, before
 * anything is read or written; so is a directory, which node would open and only fail to read.
 */
export async function openTextInput(path: string, stdin: NodeJS.ReadableStream): Promise<TextInput> {
  if (path === "-") return { name: "stdin", chunks: readChunks(stdin, "stdin") };
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw badInput(path, `cannot open: ${ioReason(err)}`);
  }
  const kind = await handle.stat().catch(() => undefined);
  if (kind?.isDirectory()) {
    await handle.close();
    throw badInput(path, "cannot open: it is a directory");
  }
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  return { name: path, chunks: readChunks(stream, path) };
}

async function* readChunks(stream: NodeJS.ReadableStream, name: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream) yield typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
  } catch (err) {
    throw badInput(name, `cannot read: ${ioReason(err)}`);
  }
}

/** The flags of every command that reads events: what a bad line does, and how long a line may be. */
export const EVENT_READER_FLAGS = {
  "skip-bad": { kind: "boolean", help: "skip bad event lines and count them on stderr instead of failing" },
  "max-line-bytes": {
    kind: "number",
    integer: true,
    min: 1,
    max: MAX_LINE_BYTES_LIMIT,
    default: DEFAULT_MAX_LINE_BYTES,
    value: "N",
    help: `the longest event line accepted, in bytes, its line end not counted; a longer one is a bad line (default ${DEFAULT_MAX_LINE_BYTES}, 1 MiB; at most ${MAX_LINE_BYTES_LIMIT})`,
  },
} as const satisfies Record<string, FlagSpec>;

/** What `--skip-bad` left out, for stderr: undefined when no line was skipped. */
export function skippedNote(parser: EventParser): string | undefined {
  if (parser.skipped === 0) return undefined;
  const lines = parser.skipped === 1 ? "line" : "lines";
  return `skipped ${parser.skipped} bad ${lines} (first: ${parser.skippedReasons[0]})`;
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
  const target = await outputTarget(path);
  const partial = join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`);
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
    await rename(partial, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw new PhasorError("runtime", `${path}: cannot write: ${ioReason(err)}`);
  } finally {
    partialFiles.delete(partial);
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

/** Lines gathered into chunks of about `chunkChars` characters: one write() per chunk, not per line. */
export class LineWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly chunkChars = 1 << 16,
  ) {}

  line(text: string): void {
    this.parts.push(text);
    this.size += text.length + 1;
  }

  /** writes once a chunk is full; call it between batches of lines */
  async flushIfFull(): Promise<void> {
    if (this.size >= this.chunkChars) await this.flush();
  }

  /** writes everything gathered, and waits while the output's buffer is full */
  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    this.parts.push("");
    const text = this.parts.join("\n");
    this.parts = [];
    this.size = 0;
    if (!this.out.write(text)) await once(this.out, "drain");
  }
}
