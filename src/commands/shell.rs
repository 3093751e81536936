//! The interactive SQL shell of `acrm sql` (no query given): statements end with `;` and may
//! span lines, with history and backslash commands; with piped input, runs the script.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use acrm_olap::Engine;
use anyhow::bail;

use crate::commands::query::{ResultArgs, run_query, split_statements};
use crate::output::Format;

/// The interactive shell: statements end with `;` and may span lines; `\d` lists tables,
/// `\d NAME` describes one, `\timing` toggles timing, `\q` quits. With piped standard input,
/// runs the statements read.
pub fn run(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    mut result: ResultArgs,
) -> anyhow::Result<()> {
    // The shell prints to the terminal: no output file, no binary format.
    result.output = None;
    if result.format == Format::Parquet {
        result.format = Format::Table;
    }
    if !std::io::stdin().is_terminal() {
        let mut script = String::new();
        std::io::stdin().read_to_string(&mut script)?;
        let mut failed = false;
        for stmt in split_statements(&script) {
            if let Err(e) = run_line(rt, engine, &stmt, &result) {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
        if failed {
            bail!("some statements failed");
        }
        return Ok(());
    }
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".acrm_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    outln!(
        "acrm SQL shell on warehouse version {} ({}). End statements with ';'. \\d lists tables, \\d NAME describes one, \\timing times statements, \\q quits.",
        engine.version(),
        engine.dir().display()
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "acrm> "
        } else {
            "   -> "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            if trimmed == "\\q" {
                break;
            }
            if trimmed == "\\timing" {
                result.timing = !result.timing;
                outln!("Timing is {}.", if result.timing { "on" } else { "off" });
                continue;
            }
            if let Err(e) = run_line(rt, engine, trimmed, &result) {
                eprintln!("error: {e:#}");
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if trimmed.ends_with(';') {
            let _ = editor.add_history_entry(buffer.trim());
            for stmt in split_statements(&buffer) {
                if let Err(e) = run_line(rt, engine, &stmt, &result) {
                    eprintln!("error: {e:#}");
                }
            }
            buffer.clear();
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// One shell input: a backslash command or a statement.
fn run_line(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    line: &str,
    result: &ResultArgs,
) -> anyhow::Result<()> {
    match line.strip_prefix("\\d") {
        Some(rest) if rest.trim().is_empty() => {
            crate::commands::catalog::print_tables(engine, result.format)
        }
        Some(rest) => {
            crate::commands::catalog::print_describe(rt, engine, rest.trim(), result.format)
        }
        None => run_query(rt, engine, line, result).map(drop),
    }
}
