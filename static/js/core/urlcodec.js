/**
 * Page state ↔ URL, as a table of fields (TF Playground style); both pages describe their links
 * with one table each.  No DOM.
 *
 * A field is {param, key, parse(text, ctx) → value, write(state, ctx) → string | null}: parse throws
 * an Error to have the entry skipped and reported (ctx.report(message) reports without skipping);
 * write gives null to leave the parameter out.  The helpers below build the usual fields from a
 * state key and its default value.
 *
 * createCodec(fields) → {toHash(state, ctx), fromParams(URLSearchParams, ctx) → {values, problems},
 *   field(key)}; values holds the parsed value of every parameter present, by field key.
 */
import { PALETTE_CHOICES } from "./colors.js";

/** "digit=3&pin=conv1:0:5:5": commas, colons and semicolons stay readable. */
function encodeValue(text) {
  return encodeURIComponent(text).replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%3B/g, ";");
}

export function createCodec(fields) {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  return {
    toHash(state, ctx = {}) {
      const parts = [];
      for (const f of fields) {
        const text = f.write(state, ctx);
        if (text !== null && text !== undefined) parts.push(`${f.param}=${encodeValue(text)}`);
      }
      return parts.join("&");
    },
    fromParams(params, ctx = {}) {
      const values = {};
      const problems = [];
      const report = (message) => problems.push(message);
      for (const f of fields) {
        if (!params.has(f.param)) continue;
        try {
          values[f.key] = f.parse(params.get(f.param), { ...ctx, report });
        } catch (e) {
          report(e.message);
        }
      }
      return { values, problems };
    },
    field: (key) => byKey.get(key),
  };
}

/** The parameters a page was opened with: the hash if it holds any, else the query string. */
export function linkParams(search, hash) {
  const h = new URLSearchParams(hash.replace(/^#/, ""));
  return [...h.keys()].length ? h : new URLSearchParams(search.replace(/^\?/, ""));
}

const differs =
  (key, fallback, show = String) =>
  (s) =>
    s[key] === fallback ? null : show(s[key]);

/** One of a fixed list of words. */
export function choiceField(param, key, options, fallback) {
  return {
    param,
    key,
    parse(text) {
      if (!options.includes(text)) throw new Error(`${param} must be one of ${options.join(", ")}`);
      return text;
    },
    write: differs(key, fallback),
  };
}

/** An integer from lo to hi. */
export function intField(param, key, [lo, hi], fallback) {
  return {
    param,
    key,
    parse(text) {
      const v = Number(text);
      if (text === "" || !Number.isInteger(v) || v < lo || v > hi) {
        throw new Error(`${param}: "${text}" is not an integer from ${lo} to ${hi}`);
      }
      return v;
    },
    write: differs(key, fallback),
  };
}

/** On when "1" or "true"; written as 1 while on. */
export function flagField(param, key) {
  return {
    param,
    key,
    parse: (text) => text === "1" || text === "true",
    write: (s) => (s[key] ? "1" : null),
  };
}

/** Any text. */
export function textField(param, key, fallback = "") {
  return { param, key, parse: String, write: differs(key, fallback) };
}

/** A comma-separated list of known names (known(ctx) → names); unknown ones are dropped and reported. */
export function namesField(param, key, known, what) {
  return {
    param,
    key,
    parse(text, ctx) {
      const allowed = known(ctx);
      const names = text
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean);
      const bad = names.filter((n) => !allowed.includes(n));
      if (bad.length) ctx.report(`${param}: ${what} ${bad.join(", ")}`);
      return names.filter((n) => allowed.includes(n));
    },
    write: (s) => (s[key].length ? s[key].join(",") : null),
  };
}

/** The teacher's fields both pages share: hide=a,b (names of ctx.controls), present=1, cmap=… */
export function teacherFields() {
  return [
    namesField("hide", "hide", (ctx) => ctx.controls, "unknown control"),
    flagField("present", "present"),
    choiceField("cmap", "palette", PALETTE_CHOICES, "auto"),
  ];
}
