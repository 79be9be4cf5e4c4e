//! Comparing two normalized transcripts: an LCS alignment rendered side by side, so a failure shows
//! both servers' lines for every step, with the differing rows marked `!`.

use std::fmt::Write;

use super::normalize::Line;

/// Width of each column in the side-by-side rendering; longer lines wrap.
pub const COLUMN_WIDTH: usize = 100;

/// One row of the alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Same(usize, usize),
    Differ(Option<usize>, Option<usize>),
}

/// The index of the first step whose lines differ, if any.
pub fn first_difference(left: &[Line], right: &[Line]) -> Option<usize> {
    align(left, right).into_iter().find_map(|row| match row {
        Row::Same(..) => None,
        Row::Differ(l, r) => Some(
            l.map(|i| left[i].step)
                .into_iter()
                .chain(r.map(|j| right[j].step))
                .min()
                .unwrap_or(usize::MAX),
        ),
    })
}

fn same(a: &Line, b: &Line) -> bool {
    a.step == b.step && a.text == b.text
}

/// Longest-common-subsequence alignment; runs of unmatched lines are paired row by row.
fn align(left: &[Line], right: &[Line]) -> Vec<Row> {
    let (n, m) = (left.len(), right.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if same(&left[i], &right[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut rows = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut only_left, mut only_right) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<Row>, l: &mut Vec<usize>, r: &mut Vec<usize>| {
        for k in 0..l.len().max(r.len()) {
            rows.push(Row::Differ(l.get(k).copied(), r.get(k).copied()));
        }
        l.clear();
        r.clear();
    };
    while i < n || j < m {
        if i < n && j < m && same(&left[i], &right[j]) {
            flush(&mut rows, &mut only_left, &mut only_right);
            rows.push(Row::Same(i, j));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            only_left.push(i);
            i += 1;
        } else {
            only_right.push(j);
            j += 1;
        }
    }
    flush(&mut rows, &mut only_left, &mut only_right);
    rows
}

fn wrap(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(COLUMN_WIDTH)
        .map(|c| c.iter().collect())
        .collect()
}

fn step_name(step: usize) -> String {
    if step == usize::MAX {
        "end".into()
    } else {
        format!("#{step}")
    }
}

/// Both transcripts side by side, one block per step, differing rows marked `!`.
pub fn side_by_side(left_name: &str, left: &[Line], right_name: &str, right: &[Line]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<w$} | {}",
        left_name,
        right_name,
        w = COLUMN_WIDTH
    );
    let mut current_step = None;
    for row in align(left, right) {
        let (l, r, mark) = match row {
            Row::Same(i, j) => (Some(&left[i]), Some(&right[j]), ' '),
            Row::Differ(i, j) => (i.map(|i| &left[i]), j.map(|j| &right[j]), '!'),
        };
        let Some(anchor) = l.or(r) else { continue };
        if current_step != Some(anchor.step) {
            current_step = Some(anchor.step);
            let _ = writeln!(out, "-- step {}: {}", step_name(anchor.step), anchor.label);
        }
        let lw = l.map_or_else(|| vec![String::new()], |l| wrap(&l.text));
        let rw = r.map_or_else(|| vec![String::new()], |r| wrap(&r.text));
        for k in 0..lw.len().max(rw.len()) {
            let _ = writeln!(
                out,
                "{mark} {:<w$} | {}",
                lw.get(k).map_or("", String::as_str),
                rw.get(k).map_or("", String::as_str),
                w = COLUMN_WIDTH
            );
        }
    }
    out
}

/// One transcript, for printing.
pub fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut current_step = None;
    for line in lines {
        if current_step != Some(line.step) {
            current_step = Some(line.step);
            let _ = writeln!(out, "-- step {}: {}", step_name(line.step), line.label);
        }
        let _ = writeln!(out, "   {}", line.text);
    }
    out
}
