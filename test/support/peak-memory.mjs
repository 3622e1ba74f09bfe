// Preloaded (node --import) into a CLI process whose memory a test bounds: on exit, however it exits, writes the
// peak resident set size in KiB to the file PHASOR_PEAK_RSS_FILE names.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  writeFileSync(process.env.PHASOR_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS));
});
