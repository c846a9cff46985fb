//! Structure rules for the library source (`src/`, without `src/main.rs`):
//! no two files depend on each other, directly or through a chain, and no
//! function is longer than 100 lines.
//!
//! Both rules read the source through one small lexer: comments and string,
//! byte-string, raw-string and char literals are blanked out (line breaks
//! kept), the rest is cut into tokens, and `#[cfg(test)] mod … { … }` blocks
//! are dropped. It uses std only, so the check adds nothing to build.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque, hash_map::Entry},
    fs,
    path::{Path, PathBuf},
};

/// The longest function allowed, in lines from `fn` to its closing brace.
const MAX_FUNCTION_LINES: usize = 100;

/// How many re-exports and aliases a path is followed through at most.
const MAX_HOPS: usize = 8;

/// Keywords that can follow an item keyword (`const fn`, `static mut`…) and are no names.
const KEYWORDS: [&str; 18] = [
    "as", "async", "const", "crate", "dyn", "enum", "extern", "fn", "impl", "mod", "mut", "pub",
    "self", "static", "struct", "trait", "type", "unsafe",
];

/// Keywords that introduce a named item.
const ITEM_KEYWORDS: [&str; 9] = [
    "fn", "struct", "enum", "trait", "type", "const", "static", "mod", "union",
];

#[test]
fn no_two_source_files_import_each_other_directly_or_through_a_chain() {
    let sources = library_sources();
    let graph = DependencyGraph::build(&borrowed(&sources));
    eprintln!(
        "dependency graph of src: {} files, {} edges",
        graph.files.len(),
        graph.edges.len()
    );
    assert!(
        graph.files.len() >= 30,
        "only {} files found",
        graph.files.len()
    );
    assert!(
        graph.edges.len() >= 50,
        "only {} edges found",
        graph.edges.len()
    );
    let cycles = graph.cycle_report();
    assert!(
        cycles.is_empty(),
        "{} dependency cycle(s) among src files (one line each: the files, then one chain \
         with the line of each reference):\n{}",
        cycles.len(),
        cycles.join("\n")
    );
}

#[test]
fn no_function_in_src_is_longer_than_100_lines() {
    let functions: Vec<Function> = library_sources()
        .iter()
        .flat_map(|(path, text)| functions_in(path, &tokens_outside_tests(text)))
        .collect();
    eprintln!("functions in src: {}", functions.len());
    assert!(
        functions.len() >= 200,
        "only {} functions found",
        functions.len()
    );
    let long = long_functions(&functions);
    assert!(
        long.is_empty(),
        "{} function(s) longer than {MAX_FUNCTION_LINES} lines, longest first:\n{}",
        long.len(),
        long.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Reading the source

/// Every `src/**/*.rs` but `src/main.rs`, as (path from the crate root, text), sorted by path.
fn library_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    collect_rust_files(&root.join("src"), &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|path| (crate_relative(root, path), read(path)))
        .filter(|(relative, _)| relative != "src/main.rs")
        .collect()
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for path in entries.map(|entry| entry.expect("directory entry").path()) {
        if path.is_dir() {
            collect_rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn crate_relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).expect("a path under the crate");
    relative.to_string_lossy().replace('\\', "/")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn borrowed(sources: &[(String, String)]) -> Vec<(&str, &str)> {
    sources
        .iter()
        .map(|(path, text)| (path.as_str(), text.as_str()))
        .collect()
}

// ---------------------------------------------------------------------------
// The lexer: comments and literals out, tokens in, test modules dropped

/// A token of stripped source: a word, `::`, a lifetime (`'a`) or one punctuation character.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is_word(&self) -> bool {
        self.text.starts_with(is_word_char)
    }

    fn is_name(&self) -> bool {
        self.is_word() && !KEYWORDS.contains(&self.text.as_str())
    }
}

/// The tokens of `source` outside comments, literals and `#[cfg(test)]` modules.
fn tokens_outside_tests(source: &str) -> Vec<Token> {
    drop_test_modules(tokenize(&strip_comments_and_literals(source)))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with comments and literals replaced by spaces, line breaks kept.
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let end = match comment_or_literal_end(&chars, i) {
            Some(end) => {
                out.extend(
                    chars[i..end]
                        .iter()
                        .map(|&c| if c == '\n' { c } else { ' ' }),
                );
                end
            }
            None => {
                let end = word_end(&chars, i).max(i + 1);
                out.extend(&chars[i..end]);
                end
            }
        };
        i = end;
    }
    out
}

fn char_at(chars: &[char], i: usize) -> char {
    chars.get(i).copied().unwrap_or('\0')
}

/// Where a comment or literal starting at `i` ends, or `None` if none starts there.
fn comment_or_literal_end(chars: &[char], i: usize) -> Option<usize> {
    match (char_at(chars, i), char_at(chars, i + 1)) {
        ('/', '/') => Some(line_end(chars, i)),
        ('/', '*') => Some(block_comment_end(chars, i)),
        ('"', _) => Some(quoted_end(chars, i, '"')),
        ('\'', _) => char_literal_end(chars, i),
        (c, _) if is_word_char(c) => prefixed_literal_end(chars, i),
        _ => None,
    }
}

/// The end of the word starting at `i` (`i` itself when no word starts there).
fn word_end(chars: &[char], i: usize) -> usize {
    let length = chars[i..].iter().take_while(|&&c| is_word_char(c)).count();
    i + length
}

fn line_end(chars: &[char], i: usize) -> usize {
    chars[i..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |offset| i + offset)
}

/// The end of a (possibly nested) `/* … */` comment starting at `i`.
fn block_comment_end(chars: &[char], i: usize) -> usize {
    let (mut depth, mut k) = (0, i);
    while k < chars.len() {
        match (chars[k], char_at(chars, k + 1)) {
            ('/', '*') => (depth, k) = (depth + 1, k + 2),
            ('*', '/') if depth == 1 => return k + 2,
            ('*', '/') => (depth, k) = (depth - 1, k + 2),
            _ => k += 1,
        }
    }
    chars.len()
}

/// The end of a literal opened by `quote` at `i`, with backslash escapes.
fn quoted_end(chars: &[char], i: usize, quote: char) -> usize {
    let mut k = i + 1;
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            c if c == quote => return k + 1,
            _ => k += 1,
        }
    }
    chars.len()
}

/// The end of a char literal at `i` (`'x'`, `'\n'`, `'\u{…}'`); `None` for a lifetime or label.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    match (char_at(chars, i + 1), char_at(chars, i + 2)) {
        ('\\', _) => Some(quoted_end(chars, i, '\'')),
        (c, '\'') if c != '\'' => Some(i + 3),
        _ => None,
    }
}

/// The end of `b"…"`, `c"…"`, `b'…'`, `r"…"`, `r#"…"#`, `br#"…"#` or `cr#"…"#` at `i`.
fn prefixed_literal_end(chars: &[char], i: usize) -> Option<usize> {
    let prefix = usize::from(matches!(chars[i], 'b' | 'c'));
    let k = i + prefix;
    match (char_at(chars, k), char_at(chars, k + 1)) {
        ('r', '"' | '#') => raw_string_end(chars, k + 1),
        ('"', _) if prefix == 1 => Some(quoted_end(chars, k, '"')),
        ('\'', _) if chars[i] == 'b' => char_literal_end(chars, k),
        _ => None,
    }
}

/// The end of a raw string whose `#`s (or opening quote) start at `start`.
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let hashes = chars[start..].iter().take_while(|&&c| c == '#').count();
    let open = start + hashes;
    if char_at(chars, open) != '"' {
        return None; // a raw identifier such as `r#type`
    }
    let closes_at = |k: usize| {
        chars[k] == '"'
            && chars
                .get(k + 1..k + 1 + hashes)
                .is_some_and(|tail| tail.iter().all(|&c| c == '#'))
    };
    let close = (open + 1..chars.len()).find(|&k| closes_at(k));
    Some(close.map_or(chars.len(), |k| k + 1 + hashes))
}

/// Cuts stripped source into tokens, each with its line number.
fn tokenize(stripped: &str) -> Vec<Token> {
    let chars: Vec<char> = stripped.chars().collect();
    let (mut tokens, mut line, mut i) = (Vec::new(), 1, 0);
    while i < chars.len() {
        let c = chars[i];
        let end = match (c, char_at(&chars, i + 1)) {
            (':', ':') => i + 2,
            ('\'', _) => word_end(&chars, i + 1),
            _ if is_word_char(c) => word_end(&chars, i),
            _ => i + 1,
        };
        if c == '\n' {
            line += 1;
        } else if !c.is_whitespace() {
            let text = chars[i..end].iter().collect();
            tokens.push(Token { text, line });
        }
        i = end;
    }
    tokens
}

/// The text of token `i`, or "" past the end.
fn text(tokens: &[Token], i: usize) -> &str {
    tokens.get(i).map_or("", |token| token.text.as_str())
}

fn texts_at(tokens: &[Token], i: usize, expected: &[&str]) -> bool {
    expected
        .iter()
        .enumerate()
        .all(|(offset, want)| text(tokens, i + offset) == *want)
}

/// The index of the bracket closing the one at `open`.
fn matching_close(tokens: &[Token], open: usize) -> Option<usize> {
    let opener = text(tokens, open);
    let closer = match opener {
        "{" => "}",
        "(" => ")",
        "[" => "]",
        _ => return None,
    };
    let mut depth = 0usize;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        if token.text == opener {
            depth += 1;
        } else if token.text == closer {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

fn drop_test_modules(tokens: Vec<Token>) -> Vec<Token> {
    let mut kept = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        match test_module_end(&tokens, i) {
            Some(end) => i = end,
            None => {
                kept.push(tokens[i].clone());
                i += 1;
            }
        }
    }
    kept
}

/// If a `#[cfg(test)] mod name { … }` (or `mod name;`) starts at `i`, the index just past it.
fn test_module_end(tokens: &[Token], i: usize) -> Option<usize> {
    if !texts_at(tokens, i, &["#", "[", "cfg", "(", "test", ")", "]"]) {
        return None;
    }
    let k = skip_visibility(tokens, skip_attributes(tokens, i + 7)?)?;
    if text(tokens, k) != "mod" {
        return None;
    }
    match text(tokens, k + 2) {
        ";" => Some(k + 3),
        "{" => Some(matching_close(tokens, k + 2)? + 1),
        _ => None,
    }
}

fn skip_attributes(tokens: &[Token], mut k: usize) -> Option<usize> {
    while texts_at(tokens, k, &["#", "["]) {
        k = matching_close(tokens, k + 1)? + 1;
    }
    Some(k)
}

fn skip_visibility(tokens: &[Token], k: usize) -> Option<usize> {
    match (text(tokens, k), text(tokens, k + 1)) {
        ("pub", "(") => Some(matching_close(tokens, k + 1)? + 1),
        ("pub", _) => Some(k + 1),
        _ => Some(k),
    }
}

// ---------------------------------------------------------------------------
// What a file declares, imports and refers to

/// One name a `use` brings in: `path` as written (`crate::a::B`, `super::x`…),
/// bound to `name`, or every public name of it when `name` is `None` (a glob).
#[derive(Debug, Clone)]
struct Import {
    path: Vec<String>,
    name: Option<String>,
    line: usize,
}

/// A path as written in code or in a `use`, with its line.
struct Reference {
    path: Vec<String>,
    line: usize,
}

/// A source file as the dependency graph sees it.
struct SourceFile {
    path: String,
    module: Vec<String>,
    imports: Vec<Import>,
    children: BTreeSet<String>,
    defined: BTreeSet<String>,
    code_paths: Vec<Reference>,
}

impl SourceFile {
    fn parse(path: &str, source: &str) -> SourceFile {
        let tokens = tokens_outside_tests(source);
        SourceFile {
            path: path.to_owned(),
            module: module_path(path),
            imports: use_declarations(&tokens),
            children: declared_modules(&tokens),
            defined: defined_names(&tokens),
            code_paths: code_paths(&tokens),
        }
    }

    /// The import binding `name`, if any.
    fn import_named(&self, name: &str) -> Option<&Import> {
        self.imports
            .iter()
            .find(|import| import.name.as_deref() == Some(name))
    }

    /// Whether `name` is defined or imported here, so a glob re-export of this file passes it on.
    fn offers(&self, name: &str) -> bool {
        self.defined.contains(name) || self.import_named(name).is_some()
    }

    /// Every path this file refers to: its imports, then the paths in its code.
    fn references(&self) -> impl Iterator<Item = Reference> + '_ {
        let imports = self.imports.iter().map(|import| Reference {
            path: import.path.clone(),
            line: import.line,
        });
        let code = self.code_paths.iter().map(|reference| Reference {
            path: reference.path.clone(),
            line: reference.line,
        });
        imports.chain(code)
    }
}

/// `src/lib.rs` → `[]` (the crate), `src/a/mod.rs` → `[a]`, `src/a/b.rs` → `[a, b]`.
fn module_path(path: &str) -> Vec<String> {
    let inner = path.strip_prefix("src/").unwrap_or(path);
    let inner = inner.strip_suffix(".rs").unwrap_or(inner);
    let mut segments: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if segments.last().is_some_and(|last| last == "mod") || segments == ["lib"] {
        segments.pop();
    }
    segments
}

/// Whether a use tree starts at `i` (so `use<'a>` in `impl Trait + use<'a>` does not count).
fn starts_use_tree(tokens: &[Token], i: usize) -> bool {
    text(tokens, i - 1) == "use"
        && (text(tokens, i) == "{" || tokens.get(i).is_some_and(Token::is_word))
}

fn use_declarations(tokens: &[Token]) -> Vec<Import> {
    let mut imports = Vec::new();
    for i in 1..tokens.len() {
        if starts_use_tree(tokens, i) {
            let mut pos = i;
            parse_use_tree(tokens, &mut pos, &[], &mut imports);
        }
    }
    imports
}

/// Reads one use tree at `pos` (`a::b`, `a::{b, c::d}`, `a::*`, `a as b`) below `prefix`.
fn parse_use_tree(tokens: &[Token], pos: &mut usize, prefix: &[String], out: &mut Vec<Import>) {
    let mut path = prefix.to_vec();
    while let Some(token) = tokens.get(*pos) {
        match token.text.as_str() {
            "::" => *pos += 1,
            "{" => {
                *pos += 1;
                return parse_use_group(tokens, pos, &path, out);
            }
            "*" => {
                *pos += 1;
                let line = token.line;
                return out.push(Import {
                    path,
                    name: None,
                    line,
                });
            }
            word if token.is_word() => {
                path.push(word.to_owned());
                *pos += 1;
                if text(tokens, *pos) != "::" {
                    return out.push(leaf_import(tokens, pos, path, token.line));
                }
            }
            _ => return,
        }
    }
}

/// Reads the trees of a `{ … }` group whose opening brace is just before `pos`.
fn parse_use_group(tokens: &[Token], pos: &mut usize, path: &[String], out: &mut Vec<Import>) {
    while *pos < tokens.len() {
        match text(tokens, *pos) {
            "}" => {
                *pos += 1;
                return;
            }
            "," => *pos += 1,
            _ => {
                let before = *pos;
                parse_use_tree(tokens, pos, path, out);
                if *pos == before {
                    *pos += 1;
                }
            }
        }
    }
}

/// The import of a complete path, with its `as` alias if one follows at `pos`.
fn leaf_import(tokens: &[Token], pos: &mut usize, mut path: Vec<String>, line: usize) -> Import {
    let alias = if text(tokens, *pos) == "as" {
        *pos += 2;
        Some(text(tokens, *pos - 1).to_owned())
    } else {
        None
    };
    if path.last().is_some_and(|last| last == "self") {
        path.pop();
    }
    let name = alias.or_else(|| path.last().cloned());
    Import { path, name, line }
}

/// Names of the modules declared here (`mod x;`, `pub mod x { … }`).
fn declared_modules(tokens: &[Token]) -> BTreeSet<String> {
    (0..tokens.len())
        .filter(|&i| text(tokens, i) == "mod" && matches!(text(tokens, i + 2), ";" | "{"))
        .filter_map(|i| tokens.get(i + 1).filter(|t| t.is_name()))
        .map(|token| token.text.clone())
        .collect()
}

/// Names of the items defined here: `fn|struct|enum|trait|type|const|static|mod|union NAME`
/// and `macro_rules! NAME`.
fn defined_names(tokens: &[Token]) -> BTreeSet<String> {
    (0..tokens.len())
        .filter_map(|i| defined_name_at(tokens, i))
        .collect()
}

fn defined_name_at(tokens: &[Token], i: usize) -> Option<String> {
    let k = match text(tokens, i) {
        "macro_rules" if text(tokens, i + 1) == "!" => i + 2,
        keyword if ITEM_KEYWORDS.contains(&keyword) => {
            i + 1 + usize::from(text(tokens, i + 1) == "mut")
        }
        _ => return None,
    };
    tokens
        .get(k)
        .filter(|t| t.is_name())
        .map(|t| t.text.clone())
}

/// Paths in code (outside `use` declarations) with at least two segments, as written.
fn code_paths(tokens: &[Token]) -> Vec<Reference> {
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if i > 0 && starts_use_tree(tokens, i) {
            i = statement_end(tokens, i);
        } else if starts_path(tokens, i) {
            let (path, end) = read_path(tokens, i);
            paths.push(Reference {
                path,
                line: tokens[i].line,
            });
            i = end;
        } else {
            i += 1;
        }
    }
    paths
}

fn statement_end(tokens: &[Token], i: usize) -> usize {
    (i..tokens.len())
        .find(|&k| text(tokens, k) == ";")
        .map_or(tokens.len(), |k| k + 1)
}

/// Whether a path like `a::b` starts at `i` (not `pub(in a::b)`, which is a visibility).
fn starts_path(tokens: &[Token], i: usize) -> bool {
    tokens[i].is_word()
        && text(tokens, i + 1) == "::"
        && (i == 0 || !matches!(text(tokens, i - 1), "::" | "in"))
}

fn read_path(tokens: &[Token], start: usize) -> (Vec<String>, usize) {
    let mut path = vec![tokens[start].text.clone()];
    let mut k = start + 1;
    while text(tokens, k) == "::" && tokens.get(k + 1).is_some_and(Token::is_word) {
        path.push(tokens[k + 1].text.clone());
        k += 2;
    }
    (path, k)
}

// ---------------------------------------------------------------------------
// Resolving paths to files

/// The library's files, found by module path.
struct Crate {
    files: Vec<SourceFile>,
    by_module: HashMap<Vec<String>, usize>,
}

impl Crate {
    fn new(files: Vec<SourceFile>) -> Crate {
        let by_module = files
            .iter()
            .enumerate()
            .map(|(index, file)| (file.module.clone(), index))
            .collect();
        Crate { files, by_module }
    }

    /// The file `path` (as written in file `from`) leads to, or `None` outside the crate.
    fn resolve(&self, from: usize, path: &[String]) -> Option<usize> {
        let absolute = self.absolute(from, path, 0)?;
        self.target(&absolute, 0)
    }

    /// `path` as written in file `from`, from the crate root (without `crate`),
    /// or `None` when it starts outside the crate (`std::…`, another crate).
    fn absolute(&self, from: usize, path: &[String], hops: usize) -> Option<Vec<String>> {
        let file = &self.files[from];
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" | "super" => relative_path(&file.module, path),
            name if file.children.contains(name) => Some(joined(&file.module, path)),
            name if hops < MAX_HOPS => {
                let import = file.import_named(name)?;
                let base = self.absolute(from, &import.path, hops + 1)?;
                Some(joined(&base, rest))
            }
            _ => None,
        }
    }

    /// The file that defines what the absolute `path` names: its longest prefix
    /// that is a module with its own file, then re-exports followed from there.
    fn target(&self, path: &[String], hops: usize) -> Option<usize> {
        let (file, length) = self.longest_module_prefix(path)?;
        let Some(name) = path.get(length) else {
            return Some(file);
        };
        if hops >= MAX_HOPS || self.files[file].defined.contains(name) {
            return Some(file);
        }
        let rest = &path[length + 1..];
        Some(self.reexport_target(file, name, rest, hops).unwrap_or(file))
    }

    fn longest_module_prefix(&self, path: &[String]) -> Option<(usize, usize)> {
        (0..=path.len())
            .rev()
            .find_map(|length| Some((*self.by_module.get(&path[..length])?, length)))
    }

    /// Where `name` (followed by `rest`) really lives when `file` imports or glob-re-exports it.
    fn reexport_target(
        &self,
        file: usize,
        name: &str,
        rest: &[String],
        hops: usize,
    ) -> Option<usize> {
        if let Some(import) = self.files[file].import_named(name) {
            let base = self.absolute(file, &import.path, 0)?;
            return self.target(&joined(&base, rest), hops + 1);
        }
        let mut globs = self.files[file].imports.iter().filter(|i| i.name.is_none());
        globs.find_map(|glob| {
            let base = self.absolute(file, &glob.path, 0)?;
            let (inner, length) = self.longest_module_prefix(&base)?;
            if length != base.len() || !self.files[inner].offers(name) {
                return None;
            }
            let full = joined(&joined(&base, &[name.to_owned()]), rest);
            self.target(&full, hops + 1)
        })
    }
}

/// `super::…` or `self::…` as seen from `module`, or `None` when it climbs above the crate.
fn relative_path(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base = module.to_vec();
    let mut rest = path;
    while let Some((first, tail)) = rest.split_first() {
        match first.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            _ => break,
        }
        rest = tail;
    }
    Some(joined(&base, rest))
}

fn joined(base: &[String], rest: &[String]) -> Vec<String> {
    base.iter().chain(rest).cloned().collect()
}

// ---------------------------------------------------------------------------
// The graph and its cycles

/// Files and the edges between them: (from, to) → line of the first reference in `from`.
struct DependencyGraph {
    files: Vec<String>,
    edges: BTreeMap<(usize, usize), usize>,
}

impl DependencyGraph {
    fn build(sources: &[(&str, &str)]) -> DependencyGraph {
        let parsed = sources
            .iter()
            .map(|(path, text)| SourceFile::parse(path, text));
        let krate = Crate::new(parsed.collect());
        let mut edges = BTreeMap::new();
        for (from, file) in krate.files.iter().enumerate() {
            for reference in file.references() {
                match krate.resolve(from, &reference.path) {
                    Some(to) if to != from => {
                        edges.entry((from, to)).or_insert(reference.line);
                    }
                    _ => {}
                }
            }
        }
        let files = krate.files.into_iter().map(|file| file.path).collect();
        DependencyGraph { files, edges }
    }

    fn successors(&self) -> Vec<Vec<usize>> {
        let mut successors = vec![Vec::new(); self.files.len()];
        for &(from, to) in self.edges.keys() {
            successors[from].push(to);
        }
        successors
    }

    /// One line per cycle (strongly connected component of more than one file).
    fn cycle_report(&self) -> Vec<String> {
        let successors = self.successors();
        let mut cycles: Vec<Vec<usize>> = strongly_connected_components(&successors)
            .into_iter()
            .filter(|component| component.len() > 1)
            .collect();
        cycles.iter_mut().for_each(|component| component.sort());
        cycles.sort();
        cycles
            .iter()
            .map(|component| self.describe_cycle(component, &successors))
            .collect()
    }

    fn describe_cycle(&self, component: &[usize], successors: &[Vec<usize>]) -> String {
        let names: Vec<&str> = component.iter().map(|&f| self.files[f].as_str()).collect();
        let chain = example_cycle(component, successors);
        let steps: Vec<String> = chain
            .windows(2)
            .map(|pair| {
                format!(
                    "{}:{}",
                    self.files[pair[0]],
                    self.edges[&(pair[0], pair[1])]
                )
            })
            .chain(std::iter::once(self.files[component[0]].clone()))
            .collect();
        format!(
            "cycle of {} files [{}]: {}",
            component.len(),
            names.join(", "),
            steps.join(" -> ")
        )
    }
}

/// The shortest chain from the component's first file back to itself, both ends included.
fn example_cycle(component: &[usize], successors: &[Vec<usize>]) -> Vec<usize> {
    let start = component[0];
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in successors[node].iter().filter(|n| component.contains(n)) {
            if next == start {
                return chain_back(&parent, start, node);
            }
            if let Entry::Vacant(entry) = parent.entry(next) {
                entry.insert(node);
                queue.push_back(next);
            }
        }
    }
    vec![start, start]
}

/// `start`, the files BFS passed through to reach `last`, `last`, and `start` again.
fn chain_back(parent: &HashMap<usize, usize>, start: usize, last: usize) -> Vec<usize> {
    let mut chain = vec![last];
    let mut node = last;
    while node != start {
        node = parent[&node];
        chain.push(node);
    }
    chain.reverse();
    chain.push(start);
    chain
}

/// Tarjan's strongly connected components.
fn strongly_connected_components(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut tarjan = Tarjan {
        successors,
        index: vec![None; successors.len()],
        low: vec![0; successors.len()],
        on_stack: vec![false; successors.len()],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for node in 0..successors.len() {
        if tarjan.index[node].is_none() {
            tarjan.visit(node);
        }
    }
    tarjan.components
}

struct Tarjan<'a> {
    successors: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, node: usize) {
        self.index[node] = Some(self.next);
        self.low[node] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
        let successors = self.successors;
        for &next in &successors[node] {
            match self.index[next] {
                None => {
                    self.visit(next);
                    self.low[node] = self.low[node].min(self.low[next]);
                }
                Some(index) if self.on_stack[next] => self.low[node] = self.low[node].min(index),
                Some(_) => {}
            }
        }
        if self.index[node] == Some(self.low[node]) {
            self.pop_component(node);
        }
    }

    fn pop_component(&mut self, root: usize) {
        let mut component = Vec::new();
        while let Some(member) = self.stack.pop() {
            self.on_stack[member] = false;
            component.push(member);
            if member == root {
                break;
            }
        }
        self.components.push(component);
    }
}

// ---------------------------------------------------------------------------
// Function lengths

/// A function with a body: where its `fn` is and how many lines it spans.
struct Function {
    file: String,
    name: String,
    line: usize,
    lines: usize,
}

fn functions_in(file: &str, tokens: &[Token]) -> Vec<Function> {
    (0..tokens.len())
        .filter_map(|i| function_at(file, tokens, i))
        .collect()
}

/// The function whose `fn` is token `i`, if it has a body.
fn function_at(file: &str, tokens: &[Token], i: usize) -> Option<Function> {
    if tokens[i].text != "fn" {
        return None;
    }
    let name = tokens.get(i + 1).filter(|t| t.is_name())?;
    let close = matching_close(tokens, body_start(tokens, i + 2)?)?;
    Some(Function {
        file: file.to_owned(),
        name: name.text.clone(),
        line: tokens[i].line,
        lines: tokens[close].line - tokens[i].line + 1,
    })
}

/// The `{` opening the body of a function whose signature starts at `from`;
/// `None` at a `;` (a declaration without a body).
fn body_start(tokens: &[Token], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, token) in tokens.iter().enumerate().skip(from) {
        match token.text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            "{" if depth == 0 => return Some(k),
            ";" if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// One line per function over the limit, longest first.
fn long_functions(functions: &[Function]) -> Vec<String> {
    let mut long: Vec<&Function> = functions
        .iter()
        .filter(|f| f.lines > MAX_FUNCTION_LINES)
        .collect();
    long.sort_by(|a, b| (b.lines, &a.file, a.line).cmp(&(a.lines, &b.file, b.line)));
    long.iter()
        .map(|f| format!("{}:{} fn {}: {} lines", f.file, f.line, f.name, f.lines))
        .collect()
}

// ---------------------------------------------------------------------------
// Checks of the scanner itself, on small in-memory sources

mod scanner {
    use super::*;

    fn graph_of(files: &[(&str, &str)]) -> DependencyGraph {
        DependencyGraph::build(files)
    }

    /// The files `from` depends on, sorted.
    fn edges_from(graph: &DependencyGraph, from: &str) -> Vec<String> {
        let index = graph.files.iter().position(|f| f == from).expect("a file");
        let mut targets: Vec<String> = graph
            .edges
            .keys()
            .filter(|(f, _)| *f == index)
            .map(|&(_, to)| graph.files[to].clone())
            .collect();
        targets.sort();
        targets
    }

    fn lengths(source: &str) -> Vec<(String, usize)> {
        let tokens = tokens_outside_tests(source);
        let functions = functions_in("src/x.rs", &tokens);
        functions.into_iter().map(|f| (f.name, f.lines)).collect()
    }

    #[test]
    fn a_two_file_cycle_is_reported_with_its_chain() {
        let graph = graph_of(&[
            ("src/lib.rs", "pub mod a;\npub mod b;\n"),
            ("src/a.rs", "use crate::b::B;\npub struct A;\n"),
            (
                "src/b.rs",
                "pub struct B;\nfn f() {\n    let _ = crate::a::A;\n}\n",
            ),
        ]);
        let cycles = graph.cycle_report();
        assert_eq!(
            cycles,
            ["cycle of 2 files [src/a.rs, src/b.rs]: src/a.rs:1 -> src/b.rs:3 -> src/a.rs"]
        );
    }

    #[test]
    fn a_chain_of_three_files_is_one_cycle() {
        let graph = graph_of(&[
            ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
            ("src/a.rs", "use super::b::f;\n"),
            (
                "src/b.rs",
                "pub fn f() { self::g(); crate::c::h(); }\nfn g() {}\n",
            ),
            ("src/c.rs", "pub fn h() { super::a::X; }\n"),
        ]);
        let cycles = graph.cycle_report();
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert!(
            cycles[0].contains("cycle of 3 files [src/a.rs, src/b.rs, src/c.rs]"),
            "{cycles:?}"
        );
    }

    #[test]
    fn a_grouped_use_yields_one_edge_per_module() {
        let graph = graph_of(&[
            ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
            ("src/a.rs", "pub struct X;\n"),
            ("src/b.rs", "pub struct Y;\n"),
            (
                "src/c.rs",
                "use crate::{a::X, b};\nuse crate::{a::{X as Z}};\n",
            ),
        ]);
        assert_eq!(edges_from(&graph, "src/c.rs"), ["src/a.rs", "src/b.rs"]);
        assert!(graph.cycle_report().is_empty());
    }

    #[test]
    fn a_pub_use_reexport_is_followed_to_the_defining_file() {
        let graph = graph_of(&[
            ("src/lib.rs", "mod a;\nmod c;\n"),
            ("src/a/mod.rs", "mod inner;\npub use inner::Thing;\n"),
            ("src/a/inner.rs", "pub struct Thing;\n"),
            (
                "src/c.rs",
                "use crate::a::Thing;\nfn f() { crate::a::Thing::new(); }\n",
            ),
        ]);
        assert_eq!(edges_from(&graph, "src/c.rs"), ["src/a/inner.rs"]);
        assert_eq!(edges_from(&graph, "src/a/mod.rs"), ["src/a/inner.rs"]);
    }

    #[test]
    fn aliased_and_glob_reexports_are_followed() {
        let graph = graph_of(&[
            ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
            (
                "src/a/mod.rs",
                "mod x;\nmod y;\npub use x::Real as Alias;\npub use y::*;\n",
            ),
            ("src/a/x.rs", "pub struct Real;\n"),
            ("src/a/y.rs", "pub(crate) fn helper() {}\n"),
            ("src/b.rs", "use crate::a::Alias;\n"),
            ("src/c.rs", "use crate::a;\nfn f() { a::helper(); }\n"),
        ]);
        assert_eq!(edges_from(&graph, "src/b.rs"), ["src/a/x.rs"]);
        assert_eq!(
            edges_from(&graph, "src/c.rs"),
            ["src/a/mod.rs", "src/a/y.rs"]
        );
    }

    #[test]
    fn comments_strings_declarations_and_test_modules_add_no_edges() {
        let source = r##"
            //! Uses crate::b::X in a doc comment.
            mod d; // use crate::b::X;
            /* crate::b::X /* nested crate::b::X */ crate::b::X */
            const S: &str = "crate::b::X \" crate::b::X";
            const R: &str = r#"crate::b::X "quoted" crate::b::X"#;
            const C: char = '"';
            pub(in crate::a) fn f<'a>(x: &'a str) -> &'a str { x }
            #[cfg(test)]
            mod tests {
                use crate::b::X;
            }
        "##;
        let graph = graph_of(&[
            ("src/lib.rs", "mod a;\nmod b;\n"),
            ("src/a/mod.rs", source),
            ("src/a/d.rs", ""),
            ("src/b.rs", "pub struct X;\n"),
        ]);
        assert!(
            edges_from(&graph, "src/a/mod.rs").is_empty(),
            "{:?}",
            graph.edges
        );
    }

    #[test]
    fn bare_paths_through_imports_and_child_modules_count_and_macros_too() {
        let graph = graph_of(&[
            (
                "src/lib.rs",
                "pub mod a;\nmod b;\npub struct S;\nfn f() { a::A; }\n",
            ),
            (
                "src/a.rs",
                "pub struct A;\nmacro_rules! m { () => { $crate::S }; }\n",
            ),
            ("src/b.rs", "use super::a;\nfn g() { a::A; }\n"),
        ]);
        assert_eq!(edges_from(&graph, "src/lib.rs"), ["src/a.rs"]);
        assert_eq!(edges_from(&graph, "src/a.rs"), ["src/lib.rs"]);
        assert_eq!(edges_from(&graph, "src/b.rs"), ["src/a.rs"]);
    }

    #[test]
    fn function_length_ignores_braces_in_comments_strings_and_chars() {
        let source = concat!(
            "fn short() {\n",
            "    let a = '{';\n",
            "    let b = '\"';\n",
            "    let c = r#\"}\"}\"#;\n",
            "    let d = \"}\\\"}\"; // }\n",
            "    /* } */\n",
            "}\n",
            "trait T { fn declared(&self); fn provided(&self) -> [u8; 2] { [0; 2] } }\n",
            "#[cfg(test)]\nmod tests {\n    fn hidden() {}\n}\n",
        );
        let found = lengths(source);
        assert_eq!(found, [("short".to_owned(), 7), ("provided".to_owned(), 1)]);
    }

    #[test]
    fn lifetimes_and_byte_literals_do_not_confuse_the_lexer() {
        let source =
            "fn f<'a>(x: &'a [u8]) -> u8 {\n    let _ = b'}';\n    let _ = br\"}\";\n    x[0]\n}\n";
        assert_eq!(lengths(source), [("f".to_owned(), 5)]);
    }

    #[test]
    fn modules_map_to_paths() {
        assert!(module_path("src/lib.rs").is_empty());
        assert_eq!(module_path("src/a/mod.rs"), ["a"]);
        assert_eq!(module_path("src/a/b.rs"), ["a", "b"]);
    }
}
