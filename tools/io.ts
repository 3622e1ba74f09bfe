/**
 * The CLI's file input and output: text read as a stream of chunks (files of any size, or stdin), and NDJSON
 * lines written in large chunks that respect the output's backpressure.
 */
import { once } from "node:events";
import { open } from "node:fs/promises";
import { badInput } from "../host/errors.js";

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

export function ioReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
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
