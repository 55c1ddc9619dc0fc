// Regenerates reference.json: how llama.cpp's `default` and `gpt2` BPE
// pre-tokenizers split each string of ../llama3-tokenizer/corpus.json and of
// the extra strings below, computed with V8's regular expressions (flags
// "gu": Unicode property classes) instead of ternbench's hand-written
// matchers. The regexes are llama.cpp's (llama-vocab.cpp, the default case and
// LLAMA_VOCAB_PRE_TYPE_GPT2); each one splits every piece the previous one
// left into its matches and the text between them, as unicode_regex_split
// does. Node's built-ins only:
//   node tests/data/pretokenizers/make_reference.mjs
// Not covered: U+0085 and U+FEFF, where JavaScript's \s and Unicode's
// White_Space (llama.cpp's and ternbench's whitespace) disagree.
import { readFileSync, writeFileSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;
const corpus = JSON.parse(readFileSync(here + "../llama3-tokenizer/corpus.json", "utf8"));
const extra = [
  "$100+$200=<$300>^2~|x| a+=b; c<=d>=e && f||g",
  "I'M we'RE it's 'tis o'clock rock'n'roll",
  "1234567 89 ٣٤٥٦٧ １２３４５ ²³⁴ 12,345.678",
  "tail space \t",
  "  two leading, three trailing   ",
  "a\u00a0b\u2009c\u3000d",
  "§¶†‡•… «guillemets» ‹single› „low“ 「括弧」【見出し】",
  "mixed\tpunct:;,.!?-_/\\@#%&*()[]{}",
];
const regexes = {
  default: [
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
  ],
  gpt2: ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"],
};

function split(text, list) {
  let pieces = text.length ? [text] : [];
  for (const source of list) {
    const re = new RegExp(source, "gu");
    const next = [];
    for (const p of pieces) {
      let last = 0;
      for (const m of p.matchAll(re)) {
        if (m.index > last) next.push(p.slice(last, m.index));
        next.push(m[0]);
        last = m.index + m[0].length;
      }
      if (last < p.length) next.push(p.slice(last));
    }
    pieces = next;
  }
  return pieces;
}

const cases = [...corpus, ...extra].map((text) => ({
  text,
  default: split(text, regexes.default),
  gpt2: split(text, regexes.gpt2),
}));
writeFileSync(here + "reference.json", JSON.stringify({
  generator: "make_reference.mjs, V8 regular expressions, node " + process.version,
  cases,
}, null, 1) + "\n");
console.log(`reference.json: ${cases.length} strings`);
