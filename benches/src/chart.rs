//! A hand-written SVG bar chart of the ratios quartet/peer against their targets.
//!
//! One horizontal bar per ratio on a log scale centred on 1.0x: a bar grows right of the 1.0x line
//! when quartet's figure is larger than the peer's, left when smaller. A black tick marks the
//! target; green bars meet it, red bars miss it. Ratios shown only for information are left out.

use crate::report::{Evaluated, Verdict, bound};

const W: f64 = 1060.0;
const LABEL: f64 = 470.0;
const PLOT: f64 = 440.0;
/// Where the value column starts (right of the plot, so no spread line can cover it).
const VALUE: f64 = LABEL + PLOT + 12.0;
const ROW: f64 = 22.0;
const TOP: f64 = 48.0;
const LO: f64 = 0.05;
const HI: f64 = 20.0;

fn x(r: f64) -> f64 {
    let r = r.clamp(LO, HI);
    LABEL + (r.ln() - LO.ln()) / (HI.ln() - LO.ln()) * PLOT
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The chart as an SVG document.
pub fn svg(rows: &[Evaluated]) -> String {
    let mut bars = Vec::new();
    for e in rows {
        for r in e.ratios.iter().filter(|r| r.target.ratio.is_some()) {
            let label = format!("{} — vs {}", e.row.title, r.vs);
            bars.push((label, r));
        }
    }
    let h = TOP + ROW * bars.len() as f64 + 40.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{W}\" height=\"{h}\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">quartet / peer (paired median, log scale); \
         black tick = target; green met, red missed; whisker = min–max</text>\n"
    );
    for t in [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0] {
        let xx = x(t);
        let stroke = if t == 1.0 { "#000" } else { "#ddd" };
        s += &format!(
            "<line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"{stroke}\"/>\n\
             <text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{t}x</text>\n",
            TOP - 8.0,
            h - 30.0,
            TOP - 12.0
        );
    }
    for (i, (label, r)) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let short: String =
            if label.chars().count() > 78 { label.chars().take(77).collect::<String>() + "…" } else { label.clone() };
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            LABEL - 6.0,
            y + 14.0,
            esc(&short)
        );
        let Some(sum) = r.summary else {
            s += &format!("<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#999\">n/a</text>\n", x(1.0) + 4.0, y + 14.0);
            continue;
        };
        let color = match r.verdict {
            Verdict::Met => "#3a9a48",
            Verdict::Missed(_) => "#d0453a",
            _ => "#aaaaaa",
        };
        let (a, b) = (x(1.0), x(sum.median));
        let (x0, w) = if b >= a { (a, b - a) } else { (b, a - b) };
        s += &format!(
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\n",
            y + 4.0,
            w.max(1.0),
            ROW - 8.0
        );
        // Spread of the paired ratios.
        s += &format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\" stroke-width=\"1\"/>\n",
            x(sum.min),
            y + ROW / 2.0,
            x(sum.max),
            y + ROW / 2.0
        );
        if let Some(t) = r.target.ratio {
            let tx = x(t);
            s += &format!(
                "<line x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-width=\"2\"/>\n",
                y + 1.0,
                y + ROW - 1.0
            );
        }
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#222\">{:.2}x {}</text>\n",
            VALUE,
            y + 14.0,
            sum.median,
            esc(&bound(&r.target))
        );
    }
    s += "</svg>\n";
    s
}
