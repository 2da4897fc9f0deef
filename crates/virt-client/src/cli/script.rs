//! virsh's command strings: `virt -c URI "define f.xml; start web1"` runs several commands on
//! one connection. The string splits into words at blanks, `'...'` and `"..."` group, a
//! backslash escapes the next character, and an unquoted `;` ends a command.

/// Whether a single command-line argument is a command string rather than a command name.
pub fn is_command_string(arg: &str) -> bool {
    arg.contains(';') || arg.contains(char::is_whitespace)
}

/// The commands of `text`, each as its words; empty commands are dropped.
pub fn split_commands(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ';' => {
                words.extend(word.take());
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            '\\' => {
                let next = chars.next().ok_or("dangling \\")?;
                word.get_or_insert_with(String::new).push(next);
            }
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => w.push(chars.next().ok_or("dangling \\")?),
                        Some(other) => w.push(other),
                        None => return Err(format!("missing {c}")),
                    }
                }
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    if !words.is_empty() {
        commands.push(words);
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn semicolons_separate_commands_and_quotes_group() {
        assert_eq!(
            split_commands("define '/tmp/a b.xml'; start small;destroy \"small\"").expect("valid"),
            vec![
                words(&["define", "/tmp/a b.xml"]),
                words(&["start", "small"]),
                words(&["destroy", "small"]),
            ]
        );
        assert_eq!(
            split_commands(" ; list --all ;; ").expect("valid"),
            vec![words(&["list", "--all"])]
        );
        assert_eq!(
            split_commands(r"uri\;x ''").expect("valid"),
            vec![words(&["uri;x", ""])]
        );
        assert!(split_commands("define 'oops").is_err());
    }

    #[test]
    fn only_strings_with_blanks_or_semicolons_are_scripts() {
        assert!(is_command_string("uri; hostname"));
        assert!(is_command_string("list --all"));
        assert!(!is_command_string("list"));
    }
}
