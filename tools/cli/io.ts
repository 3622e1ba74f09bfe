/**
 * The CLI's streams: a text file read as a stream of byte chunks (files of any size, or stdin), and NDJSON lines
 * written in large chunks that respect the output's backpressure. Output files that appear whole or not at all,
 * and I/O failures as one-line reasons, are host/files.ts (the gateway writes its state with them too).
 */
import { once } from "node:events";
import { open, type FileHandle } from "node:fs/promises";
import { badInput } from "../../host/errors.js";
import { ioReason } from "../../host/files.js";
import { DEFAULT_MAX_LINE_BYTES, MAX_LINE_BYTES_LIMIT, type EventParser } from "../../host/engine/events.js";
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

/**
 * What a command still says when the reader of stdout goes away (`phasor run ... | head`): the CLI then stops at
 * once, quietly and with status 0 (phasor.ts), and a command's own end, with its notes on stderr, never comes. The
 * notes are about the outputs already written (inputs saturated, lines skipped), so they are said all the same, as
 * phasor-wasi says them. `say` is called at most once; the function returned takes it back (the command ended).
 */
export function whenReaderGoes(say: () => void): () => void {
  readerGone.add(say);
  return () => readerGone.delete(say);
}

const readerGone = new Set<() => void>();

/** phasor.ts, when stdout's reader has gone: what the running command registered with whenReaderGoes. */
export function sayBeforeQuietStop(): void {
  for (const say of readerGone) {
    readerGone.delete(say);
    say();
  }
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
