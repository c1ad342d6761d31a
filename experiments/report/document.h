// A report page as a list of blocks (headings, paragraphs, tables, plots), rendered to Markdown
// (plots as image links) and to one self-contained HTML file (plots as inline SVG).
#pragma once
#include <string>
#include <vector>

namespace elr {

using TableRows = std::vector<std::vector<std::string>>;  // the first row is the header

struct Block {
  enum Kind { kHeading, kParagraph, kTable, kPlot } kind;
  std::string text;  // heading, paragraph, or the plot's caption
  TableRows rows;    // table
  std::string plot;  // plot name: <plot>.svg (and <plot>.png) in the report folder
  std::string plot_title;
};

struct Document {
  std::string title;
  std::vector<Block> blocks;
  void heading(const std::string& t) { blocks.push_back({Block::kHeading, t, {}, "", ""}); }
  void paragraph(const std::string& t) { blocks.push_back({Block::kParagraph, t, {}, "", ""}); }
  void table(TableRows rows) { blocks.push_back({Block::kTable, "", std::move(rows), "", ""}); }
  void plot(const std::string& name, const std::string& title, const std::string& caption) {
    blocks.push_back({Block::kPlot, caption, {}, name, title});
  }
};

// Plots are linked as <plot>.<image_ext> ("svg" or "png").
std::string render_markdown(const Document& doc, const std::string& image_ext);
// Reads each plot's SVG from `plot_dir` and places it inline; the page refers to no other file.
std::string render_html(const Document& doc, const std::string& plot_dir);

// The ids of a gnuplot SVG (and the references to them) prefixed with `prefix`, so that several
// plots inline in one page do not share ids.
std::string scope_svg_ids(const std::string& svg, const std::string& prefix);

}  // namespace elr
