//! virsh's table layout (`vshTable`): every line starts with a space, cells are left-aligned
//! and padded to the column's width, separated by three spaces, the last cell unpadded; under
//! the header a rule of `-` as long as the widths plus three per column. Quiet mode drops header
//! and rule, and the widths then come from the rows alone.

/// A table being built.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as the header has).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The rendered text, one `\n`-terminated line per row.
    pub fn render(&self, quiet: bool) -> String {
        let columns = self.header.len();
        let mut widths = vec![0usize; columns];
        let shown_header = (!quiet).then_some(&self.header);
        for cells in shown_header.into_iter().chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(cells) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        if let Some(header) = shown_header {
            out.push_str(&line(header, &widths));
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 3 * columns));
            out.push('\n');
        }
        for cells in &self.rows {
            out.push_str(&line(cells, &widths));
        }
        out
    }
}

fn line(cells: &[String], widths: &[usize]) -> String {
    let mut out = String::from(" ");
    for (i, cell) in cells.iter().enumerate() {
        if i + 1 == cells.len() {
            out.push_str(cell);
        } else {
            let pad = widths[i].saturating_sub(cell.chars().count());
            out.push_str(cell);
            out.push_str(&" ".repeat(pad + 3));
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Table {
        let mut t = Table::new(&["Id", "Name", "State"]);
        t.row(vec!["1".into(), "alpha".into(), "running".into()]);
        t.row(vec![
            "2".into(),
            "a-very-long-domain-name-here".into(),
            "running".into(),
        ]);
        t.row(vec!["-".into(), "offdom".into(), "shut off".into()]);
        t
    }

    #[test]
    fn widths_come_from_the_widest_cell_and_the_rule_spans_them() {
        assert_eq!(
            domains().render(false),
            " Id   Name                           State\n\
             -----------------------------------------------\n \
             1    alpha                          running\n \
             2    a-very-long-domain-name-here   running\n \
             -    offdom                         shut off\n"
        );
    }

    #[test]
    fn quiet_drops_header_and_sizes_columns_from_rows() {
        let mut t = Table::new(&["Id", "Name", "State"]);
        t.row(vec!["1".into(), "test".into(), "running".into()]);
        assert_eq!(t.render(true), " 1   test   running\n");
        assert_eq!(
            t.render(false),
            " Id   Name   State\n----------------------\n 1    test   running\n"
        );
    }

    #[test]
    fn empty_last_cell_keeps_the_separator() {
        let mut t = Table::new(&["Id", "Name", "State", "Title"]);
        t.row(vec![
            "1".into(),
            "test".into(),
            "running".into(),
            String::new(),
        ]);
        assert_eq!(
            t.render(false),
            " Id   Name   State     Title\n------------------------------\n 1    test   running   \n"
        );
    }

    #[test]
    fn header_only_table_when_no_rows() {
        let t = Table::new(&["Id", "Name", "State"]);
        assert_eq!(
            t.render(false),
            " Id   Name   State\n--------------------\n"
        );
        assert_eq!(t.render(true), "");
    }
}
