from pathlib import Path

import docx

from pipeline.forms import docx_rows, field_of, parse_rows, project_code, text_rows


def test_label_variants():
    assert field_of("作  者") == field_of("作者：") == field_of("作者姓名") == "authors"
    assert field_of("作品名称") == "title" and field_of("所属区县：") == "district" and field_of("联系电话") == "phone"
    assert field_of("依托国家平台开展双师课堂的实践") is None


def test_label_value_grid_with_merged_cells(tmp_path: Path):
    document = docx.Document()
    table = document.add_table(rows=4, cols=4)
    table.cell(0, 0).text = "作品名称"
    title = table.cell(0, 1).merge(table.cell(0, 3))
    title.text = "依托国家平台开展双师课堂的实践"
    for col, text in enumerate(["作  者", "张三、李四", "单位：", "高新区实验小学"]):
        table.cell(1, col).text = text
    for col, text in enumerate(["所属区县", "高新区", "联系电话", "13800000000"]):
        table.cell(2, col).text = text
    table.cell(3, 0).text = "项目类别"
    choice = table.cell(3, 1).merge(table.cell(3, 3))
    choice.text = "☑国家平台应用案例 □“双师课堂”应用模式课例 □优秀团队"
    path = tmp_path / "form.docx"
    document.save(path)
    fields = parse_rows(docx_rows(str(path)))
    assert fields.title == "依托国家平台开展双师课堂的实践"
    assert fields.authors == ["张三", "李四"] and fields.unit == "高新区实验小学" and fields.district == "高新区"
    assert project_code(fields.project) == "case"


def test_header_row_table():
    rows = [["作品名称", "分数的初步认识"], ["姓名", "单位", "联系电话"], ["王五", "一中", "1"], ["赵六", "二中", "2"]]
    fields = parse_rows(rows)
    assert fields.title == "分数的初步认识" and fields.authors == ["王五", "赵六"] and fields.unit == "一中"


def test_pdf_style_lines():
    fields = parse_rows(text_rows("作品名称：学科教研群国家平台规模化应用\n团队成员：甲、乙、丙\n项目类别：国家平台应用优秀团队"))
    assert fields.authors == ["甲", "乙", "丙"] and project_code(fields.project) == "team"
