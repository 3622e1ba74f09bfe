/**
 * A mosquitto broker of our own on a free loopback port, for the gateway's tests and its load benchmark:
 * generated config in a directory of its own, persistence on (so a restart keeps sessions and queued messages),
 * started and stopped within bounded waits. Needs Debian's `mosquitto` package.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";

const MOSQUITTO_PATHS = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

export function findMosquitto(): string | undefined {
  const found = MOSQUITTO_PATHS.find((path) => existsSync(path));
  if (found) return found;
  const which = spawnSync("which", ["mosquitto"], { encoding: "utf8" });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** A free TCP port on 127.0.0.1, as the kernel hands one out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export class Broker {
  private process: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly binary: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /**
   * Writes the config into `dir` (created) and starts the broker on a free port of 127.0.0.1; `config` adds lines
   * (an `acl_file`, for instance).
   */
  static async start(dir: string, options: { port?: number; config?: string[] } = {}): Promise<Broker> {
    const binary = findMosquitto();
    if (binary === undefined) throw new Error("mosquitto is not installed: apt-get install -y mosquitto");
    mkdirSync(dir, { recursive: true });
    const broker = new Broker(binary, dir, options.port ?? (await freePort()));
    const config = [
      `listener ${broker.port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${dir}/`,
      // a broker killed outright loses at most the last second; a stopped one saves everything
      "autosave_interval 1",
      // queue for an offline persistent session without the default cap of 1000 messages (docs/gateway.md)
      "max_queued_messages 10000000",
      "max_inflight_messages 1000",
      `log_dest file ${join(dir, "mosquitto.log")}`,
      // mosquitto started as root drops to the user "mosquitto", who could not write to `dir`
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      ...(options.config ?? []),
      "",
    ].join("\n");
    writeFileSync(join(dir, "mosquitto.conf"), config);
    await broker.launch();
    return broker;
  }

  private async launch(): Promise<void> {
    const child = spawn(this.binary, ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    this.process = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await accepts(this.port)) return;
      await sleep(50);
    }
    child.kill("SIGKILL");
    throw new Error(`mosquitto did not start on port ${this.port}: ${stderr.trim()} ${this.logTail()}`);
  }

  /** Stops the broker as an operator would (SIGTERM: it saves its database), or kills it outright. */
  async stop(how: "graceful" | "kill" = "graceful"): Promise<void> {
    const child = this.process;
    if (child === null || child.exitCode !== null) return;
    child.kill(how === "graceful" ? "SIGTERM" : "SIGKILL");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    this.process = null;
  }

  /** Starts it again on the same port with the same database. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  logTail(): string {
    const path = join(this.dir, "mosquitto.log");
    return existsSync(path) ? readFileSync(path, "utf8").split("\n").slice(-10).join("\n") : "";
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(500);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
