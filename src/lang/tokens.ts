// Tokens of the scenario language, and its operators and units as data.
//
// The lexer has two modes, chosen by the parser: expression mode (numbers
// with units, strings, $variables, operators) and argument mode (DS CLI
// words such as `-cap`, `1000-1003`, `1000:1001`, `IBM.2105-75TZ001`,
// `db_#h`, where `-` and `:` and `#` are part of the word).

export type TokenKind =
  | "word" // argument mode: a DS CLI word, possibly with $variable parts
  | "ident" // expression mode: a name (a command, true/false, a field)
  | "number" // expression mode: a number, with its unit already applied
  | "id" // expression mode: a volume or pair ID written bare (0100, 10A0, 1000:1001)
  | "string"
  | "variable" // $name or ${name}
  | "op" // an operator from OPERATORS
  | "punct" // ( ) [ ] { } , . ; =
  | "newline"
  | "eof";

// A piece of a word or string: literal text, or a variable to interpolate.
export type Part = { text: string } | { variable: string; line: number; col: number };

export interface Token {
  kind: TokenKind;
  text: string; // the source text of the token
  value?: number; // number tokens: the value in base units (bytes, milliseconds)
  unit?: string; // number tokens: the unit as written ("" for none)
  parts?: Part[]; // word and string tokens
  offset: number; // 0-based index into the source
  line: number; // 1-based
  col: number; // 1-based
}

// Binary operators, lowest precedence first. Comparison operators do not chain.
export const BINARY_PRECEDENCE: Readonly<Record<string, number>> = {
  "||": 1,
  "&&": 2,
  "==": 3,
  "!=": 3,
  "<": 3,
  "<=": 3,
  ">": 3,
  ">=": 3,
  "+": 4,
  "-": 4,
  "*": 5,
  "/": 5,
  "%": 5,
};

export const UNARY_OPERATORS: readonly string[] = ["!", "-"];

// Longest first, so the lexer takes `<=` before `<`.
export const OPERATORS: readonly string[] = [
  "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!",
];

// Operators that end a command's arguments even when written against a word
// (`checksum 1001==$t0`). The others end them only standing alone.
export const WORD_BREAKING_OPERATORS: readonly string[] = ["==", "!=", "<=", ">=", "&&", "||", "<", ">"];

export const PUNCTUATION = "()[]{},.;=";

export type Dimension = "size" | "duration";

export interface Unit {
  dimension: Dimension;
  factor: number; // bytes, or milliseconds
}

// Units are matched without regard to case, except that `m` alone is not a unit.
export const UNITS: Readonly<Record<string, Unit>> = {
  b: { dimension: "size", factor: 1 },
  kib: { dimension: "size", factor: 2 ** 10 },
  mib: { dimension: "size", factor: 2 ** 20 },
  gib: { dimension: "size", factor: 2 ** 30 },
  tib: { dimension: "size", factor: 2 ** 40 },
  kb: { dimension: "size", factor: 1e3 },
  mb: { dimension: "size", factor: 1e6 },
  gb: { dimension: "size", factor: 1e9 },
  tb: { dimension: "size", factor: 1e12 },
  us: { dimension: "duration", factor: 1e-3 },
  ms: { dimension: "duration", factor: 1 },
  s: { dimension: "duration", factor: 1000 },
  min: { dimension: "duration", factor: 60_000 },
  h: { dimension: "duration", factor: 3_600_000 },
};
