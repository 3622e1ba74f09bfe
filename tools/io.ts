/**
 * The CLI's file input and output: text read as a stream of chunks (files of any size, or stdin), NDJSON
 * lines written in large chunks that respect the output's backpressure, and output files that appear whole or
 * not at all.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PhasorError, badInput } from "../host/errors.js";
import type { EventParser } from "../host/events.js";

export interface TextInput {
  /** the name messages give the input: the path, or "stdin" */
  name: string;
  chunks: AsyncIterable<string>;
}

const READ_CHUNK_BYTES = 1 << 16;

/**
 * Opens a text file, or stdin for "-". A file that cannot be opened is a "bad-input" PhasorError here, before
 * anything is read or written.
 */
export async function openTextInput(path: string, stdin: NodeJS.ReadableStream): Promise<TextInput> {
  if (path === "-") {
    stdin.setEncoding("utf8");
    return { name: "stdin", chunks: readChunks(stdin, "stdin") };
  }
  let handle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw badInput(path, `cannot open: ${ioReason(err)}`);
  }
  const stream = handle.createReadStream({ encoding: "utf8", highWaterMark: READ_CHUNK_BYTES });
  return { name: path, chunks: readChunks(stream, path) };
}

async function* readChunks(stream: NodeJS.ReadableStream, name: string): AsyncGenerator<string> {
  try {
    for await (const chunk of stream) yield chunk as string;
  } catch (err) {
    throw badInput(name, `cannot read: ${ioReason(err)}`);
  }
}

/** What `--skip-bad` left out, for stderr: undefined when no line was skipped. */
export function skippedNote(parser: EventParser): string | undefined {
  if (parser.skipped === 0) return undefined;
  const lines = parser.skipped === 1 ? "line" : "lines";
  return `skipped ${parser.skipped} bad ${lines} (first: ${parser.skippedReasons[0]})`;
}

/**
 * Writes `bytes` to `path` so that readers see the old file or the whole new one, never a part: the bytes go to a
 * new file beside it (same directory, so same file system), are flushed to disk, and only then renamed over
 * `path`. On any failure the partial file is removed and `path` is left as it was. A file that cannot be created
 * there is a "bad-args" PhasorError (the path is wrong); a failure while writing (disk full) is "runtime".
 */
export async function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`);
  let handle: FileHandle;
  try {
    handle = await open(partial, "wx");
  } catch (err) {
    throw new PhasorError("bad-args", `${path}: cannot create a file in ${dirname(path)}: ${ioReason(err)}`);
  }
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw new PhasorError("runtime", `${path}: cannot write: ${ioReason(err)}`);
  }
  try {
    await handle.close();
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    throw new PhasorError("runtime", `${path}: cannot write: ${ioReason(err)}`);
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
