#include "experiments/report/document.h"

#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>

#include "engine/error.h"

namespace elr {

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// The SVG element of a gnuplot SVG file, without its XML prologue, to be placed inline.
std::string inline_svg(const std::string& path, const std::string& id_prefix) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t start = text.find("<svg");
  if (start == std::string::npos) throw UserError(fmt::format("'{}' holds no SVG image", path));
  return scope_svg_ids(text.substr(start), id_prefix);
}

// Wide tables scroll inside their box instead of widening the page; long words (paths) wrap.
const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4;"
    "overflow-wrap:anywhere}\n"
    ".table-box{max-width:100%;overflow-x:auto;margin:0.6em 0}\n"
    "table{border-collapse:collapse;font-size:0.9em}\n"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;white-space:nowrap}\nth{background:#f0f0f0}\n"
    "nav{font-size:0.9em;margin:0.5em 0 1em}\nnav a{margin-right:0.8em;white-space:nowrap}\n"
    "figure{margin:1.5em 0}\nfigure svg{display:block;max-width:100%;height:auto}\n"
    "figcaption{font-size:0.9em;color:#444;max-width:760px}\n";

}  // namespace

std::string scope_svg_ids(const std::string& svg, const std::string& prefix) {
  std::set<std::string> ids;
  for (const char* attr : {"id='", "id=\""}) {
    const std::string a = attr;
    for (size_t at = svg.find(a); at != std::string::npos; at = svg.find(a, at + 1)) {
      const size_t begin = at + a.size(), end = svg.find(a.back(), begin);
      if (end != std::string::npos) ids.insert(svg.substr(begin, end - begin));
    }
  }
  std::string out = svg;
  for (const std::string& id : ids) {
    const std::string scoped = prefix + "-" + id;
    for (const char* q : {"'", "\""}) {
      replace_all(out, std::string("id=") + q + id + q, std::string("id=") + q + scoped + q);
      replace_all(out, "#" + id + q, "#" + scoped + q);
    }
    replace_all(out, "url(#" + id + ")", "url(#" + scoped + ")");
  }
  return out;
}

std::string render_markdown(const Document& doc, const std::string& image_ext) {
  std::string md = "# " + doc.title + "\n";
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::kHeading:
        md += "\n## " + b.text + "\n";
        break;
      case Block::kParagraph:
        md += "\n" + b.text + "\n";
        break;
      case Block::kTable:
        md += "\n";
        for (size_t r = 0; r < b.rows.size(); ++r) {
          md += "|";
          for (const std::string& c : b.rows[r]) md += " " + md_cell(c) + " |";
          md += "\n";
          if (r == 0) {
            md += "|";
            for (size_t i = 0; i < b.rows[0].size(); ++i) md += " --- |";
            md += "\n";
          }
        }
        break;
      case Block::kPlot:
        md += fmt::format("\n### {}\n\n![{}]({}.{})\n\n{}\n", b.plot_title, b.plot_title, b.plot, image_ext, b.text);
        break;
    }
  }
  return md;
}

std::string render_html(const Document& doc, const std::string& plot_dir) {
  std::string nav;
  for (const Block& b : doc.blocks)
    if (b.kind == Block::kPlot) nav += fmt::format("<a href=\"#{}\">{}</a> ", b.plot, html_escape(b.plot_title));
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      html_escape(doc.title) + "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
      html_escape(doc.title) + "</h1>\n";
  if (!nav.empty()) h += "<nav>Plots: " + nav + "</nav>\n";
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::kHeading:
        h += "<h2>" + html_escape(b.text) + "</h2>\n";
        break;
      case Block::kParagraph:
        h += "<p>" + html_escape(b.text) + "</p>\n";
        break;
      case Block::kTable:
        h += "<div class=\"table-box\"><table>\n";
        for (size_t r = 0; r < b.rows.size(); ++r) {
          const char* cell = r == 0 ? "th" : "td";
          h += "<tr>";
          for (const std::string& c : b.rows[r]) h += fmt::format("<{}>{}</{}>", cell, html_escape(c), cell);
          h += "</tr>\n";
        }
        h += "</table></div>\n";
        break;
      case Block::kPlot:
        h += fmt::format("<figure id=\"{}\">\n<h3>{}</h3>\n{}\n<figcaption>{}</figcaption>\n</figure>\n", b.plot,
                         html_escape(b.plot_title), inline_svg(plot_dir + "/" + b.plot + ".svg", b.plot),
                         html_escape(b.text));
        break;
    }
  }
  return h + "</body>\n</html>\n";
}

}  // namespace elr
