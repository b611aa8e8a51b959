// A tiny YAML highlighter for the page: keys, strings, numbers, booleans/null, comments,
// document markers. Line by line, enough for what `render` writes and for cells; it never
// fails, it only colours less. Returns HTML (everything escaped).

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const span = (kind, text) => (text ? `<span class="y-${kind}">${escapeHtml(text)}</span>` : "");

const NUMBER = /^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^0x[0-9a-fA-F]+$|^0o[0-7]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$/;
const CONSTANT = /^(true|false|True|False|TRUE|FALSE|null|Null|NULL|~)$/;
// A key: quoted, or plain (no leading indicator), up to the first ": " or ":" at the end.
const KEY = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}[\],&*!|>%@`-][^#]*?|-[^\s#][^#]*?)(\s*:)(?=\s|$)/;

function scalar(text) {
  const kind = NUMBER.test(text) ? "n" : CONSTANT.test(text) ? "b" : text.startsWith("&") || text.startsWith("*") ? "a" : "s";
  return span(kind, text);
}

/** The value part of a line (after `key:` or `- `), comment included. */
function value(text) {
  const lead = text.match(/^\s*/)[0];
  let rest = text.slice(lead.length);
  let out = escapeHtml(lead);
  const quoted = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')/.exec(rest);
  if (quoted) {
    out += span("s", quoted[1]);
    rest = rest.slice(quoted[1].length);
    return out + tail(rest);
  }
  if (rest.startsWith("[") || rest.startsWith("{")) return out + flow(rest);
  if (/^[|>][-+0-9]*(\s|$)/.test(rest)) {
    const indicator = rest.match(/^[|>][-+0-9]*/)[0];
    return out + span("p", indicator) + tail(rest.slice(indicator.length));
  }
  const comment = rest.search(/(^|\s)#/);
  const plain = comment < 0 ? rest : rest.slice(0, comment);
  const trimmed = plain.trimEnd();
  return out + scalar(trimmed) + escapeHtml(plain.slice(trimmed.length)) + tail(comment < 0 ? "" : rest.slice(comment));
}

/** What follows a complete value: spaces and maybe a comment. */
function tail(text) {
  const at = text.indexOf("#");
  if (at < 0) return escapeHtml(text);
  return escapeHtml(text.slice(0, at)) + span("c", text.slice(at));
}

/** A flow collection ([a, b], {k: v}) on one line. */
function flow(text) {
  let out = "";
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|\s+#.*$|[[\]{},]|:(?=\s)|[^[\]{},:\s][^[\]{},]*?(?=\s*(?:[[\]{},]|:\s|$))|\s+|./g) || [];
  tokens.forEach((token, i) => {
    if (/^\s+#/.test(token)) out += tail(token);
    else if (/^[[\]{},:]$/.test(token)) out += span("p", token);
    else if (/^\s+$/.test(token)) out += token;
    else if (tokens[i + 1] === ":") out += span("k", token);
    else if (/^["']/.test(token)) out += span("s", token);
    else out += scalar(token);
  });
  return out;
}

/** Highlights YAML text; returns HTML for a <pre>. */
export function highlight(yaml) {
  let block = -1; // the indentation of the line that opened a block scalar (| or >)
  return yaml
    .split("\n")
    .map((line) => {
      const indent = line.match(/^ */)[0].length;
      if (block >= 0) {
        if (line.trim() === "" || indent > block) return span("s", line);
        block = -1;
      }
      if (/^(---|\.\.\.)(\s|$)/.test(line)) return span("d", line.slice(0, 3)) + tail(line.slice(3));
      if (/^\s*#/.test(line)) return span("c", line);
      if (/^%%/.test(line)) return span("m", line); // a cell's first line: %%kaptain <step> --flags
      let out = escapeHtml(" ".repeat(indent));
      let rest = line.slice(indent);
      for (let dash; (dash = /^-( +|$)/.exec(rest)); rest = rest.slice(dash[0].length)) {
        out += span("p", "-") + dash[1];
      }
      const key = KEY.exec(rest);
      if (key) {
        out += span("k", key[1]) + span("p", key[2]);
        rest = rest.slice(key[0].length);
      }
      if (/^\s*[|>][-+0-9]*\s*(#.*)?$/.test(rest)) block = indent;
      return out + (rest ? value(rest) : "");
    })
    .join("\n");
}
