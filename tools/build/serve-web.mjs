// `npm run demo:web`: serves the browser demo on localhost and prints its address. Only web/ (the page), dist/
// (the library and the page's compiled script) and build/ (the wasm) are served; nothing else of the repo, or of
// the machine, is reachable: a symbolic link that leads out of its folder is not followed (issue 12, item 5).
// Plain JavaScript on node's http module, so it needs nothing but a build.
//   npm run demo:web [-- --port 8080]      --port 0 takes any free port
import { createReadStream, existsSync, realpathSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SERVED = ["web", "dist", "build"];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ts": "text/plain; charset=utf-8",
};

const { values } = parseArgs({ options: { port: { type: "string", default: "8080" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port ${values.port}: expected a port number (0 for any free one)`);
  process.exit(2);
}
for (const file of ["dist/web/demo.js", "dist/host/index.js", "build/phasor-simd.wasm", "build/phasor-scalar.wasm"]) {
  if (!existsSync(join(root, file))) {
    console.error(`${file} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
}

/** The real path of `path` (every symbolic link resolved), or null when it does not exist. */
function real(path) {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** Whether `path` is `folder` or lies inside it. */
function within(path, folder) {
  return path === folder || path.startsWith(folder + sep);
}

/**
 * The file a request path names, or null when it is not a file inside one of the served folders. The path is
 * checked as written (resolve() has removed any "..") and again once every symbolic link in it is resolved, so
 * that a link inside web/ to /etc or to the rest of the repo gives nothing.
 */
function fileFor(pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  const top = decoded.split("/")[1];
  if (!SERVED.includes(top)) return null;
  const folder = real(join(root, top));
  let file = resolve(root, `.${decoded}`);
  if (folder === null || !within(file, join(root, top))) return null;
  file = real(file);
  if (file !== null && statSync(file).isDirectory()) file = real(join(file, "index.html"));
  return file !== null && within(file, folder) && statSync(file).isFile() ? file : null;
}

const server = createServer((request, response) => {
  const { pathname } = new URL(request.url ?? "/", "http://localhost");
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (pathname === "/" || pathname === "/web") {
    response.writeHead(302, { location: "/web/" }).end();
    return;
  }
  const file = fileFor(pathname);
  if (!file) {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`not found: ${pathname}\n`);
    return;
  }
  response.writeHead(200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "content-length": statSync(file).size,
    // a development server: a rebuilt library or a new web/model.json shows on reload
    "cache-control": "no-store",
  });
  if (request.method === "HEAD") response.end();
  else createReadStream(file).pipe(response);
});

server.on("error", (error) => {
  console.error(error.code === "EADDRINUSE" ? `port ${port} is in use: npm run demo:web -- --port ${port + 1}` : error.message);
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
  const { port: bound } = server.address();
  console.log(`Phasor web demo: http://localhost:${bound}/web/  (serving web/, dist/ and build/; Ctrl-C stops)`);
});
