"""Search: the CONTRACTS.md JSON, answering residents as they type, declining the rest."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from bot.cli import main
from knowledge.evaluation import evaluate, load_eval_set
from knowledge.kb import Entry, load_entries, topic_ids
from knowledge.search import Index, default_index, grams, similarity


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("吃低保要啥子条件", "dibao.conditions"),
        ("低保标准是多少", "dibao.standard"),
        ("五保户一个月好多钱", "tekun.standard"),
        ("地保咋个申晴", "dibao.how_to_apply"),  # homophone typos of 低保 and 申请
        ("临试救注在哪里申请", "linshi.where"),
        ("残急人补帖", "disability.living_subsidy"),
        ("基础养老金算不算收入", "pension.not_counted"),
        ("娃儿爹妈都不在了没人管", "children.unattended"),
        ("申请低保有什么要求", "dibao.conditions"),  # 要求 is 条件, not the property entry's
        ("低保对存款有啥子要求", "dibao.property"),
        ("啥子叫低保", "dibao.what"),  # 叫 asks what it is, not 低保边缘 (啥子叫低保边缘)
        ("啥叫特困", "tekun.what"),
    ],
)
def test_residents_questions_are_answered(question: str, expected: str) -> None:
    result = default_index().search(question)
    assert result.answered
    assert result.results[0].id == expected


def test_an_entrys_own_phrasings_find_it() -> None:
    """The entries' titles and questions are how residents ask; nearly all must find their
    own entry first (a bare keyword such as "低保" may rightly go elsewhere)."""
    index = default_index()
    asked = [(e.id, q) for e in load_entries() for q in (e.title, *e.questions)]
    missed = [(i, q) for i, q in asked if [r.id for r in index.search(q).results[:1]] != [i]]
    assert len(missed) <= len(asked) // 200, missed


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("我老婆在超市上班挣的钱算不算", "dibao.income_calc"),  # earnings are income
        ("真的不想再活了", "emergency.now"),
        ("屋头莫得米了咋办", "emergency.now"),  # out of food: the urgent help it lists
        ("屋头断粮了", "emergency.now"),
        ("医药费交不起了咋个办", "medical_aid.what"),  # what cannot be afforded is ours
        ("孩子考上大学了学费交不起", "hardship_household.what"),
    ],
)
def test_everyday_words_for_our_matters_make_a_question_ours(question: str, expected: str) -> None:
    """Questions that name no programme but income, hunger, despair or what a family
    cannot afford, in everyday words the domain list and the lexicon lacked."""
    result = default_index().search(question)
    assert result.answered
    assert result.results[0].id == expected


@pytest.mark.parametrize(
    "question", ["护照怎么办理", "公积金怎么取", "驾照到期了去哪里换", "明天下不下雨", "你好"]
)
def test_out_of_scope_questions_are_declined(question: str) -> None:
    assert not default_index().search(question).answered


@pytest.mark.parametrize(
    "text", ["我一个人", "我和老伴", "屋头就我一个", "我是农村的", "不是", "收到", "我不晓得"]
)
def test_texts_that_name_nothing_of_ours_and_say_little_are_declined(text: str) -> None:
    """Telling us about the family, or answering a menu: every gram of such a text is in
    some phrasing ("我一个人能领多少"), which says little about what is asked."""
    assert not default_index().search(text).answered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("精神障碍社区康复服务", "disability.rehab"),  # names nothing of ours, asks nothing
        ("因病致贫了咋个办", "medical_aid.what"),  # names nothing of ours, asks
        ("五保", "tekun.what"),  # says little, but of ours
    ],
)
def test_texts_that_say_enough_or_name_something_of_ours_are_answered(
    text: str, expected: str
) -> None:
    result = default_index().search(text)
    assert result.answered
    assert result.results[0].id == expected


@pytest.mark.parametrize(
    "text", ["how to apply for dibao", "low income dibao", "abc", "ABC类", "help me please"]
)
def test_latin_words_the_search_cannot_read_are_declined(text: str) -> None:
    """Single letters of an entry ("A、B、C类") used to match any English or pinyin
    word: a Latin word is one unit, and one the knowledge base lacks counts against the
    match even in a question of ours, since it may be all that is asked."""
    assert not default_index().search(text).answered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("低保C类多久查一次", "dibao.categories_review"),  # letters the entries use
        ("dibao biaozhun shi duoshao", "dibao.standard"),  # pinyin of words we know
        ("linshi jiuzhu zenme shenqing", "linshi.where"),
    ],
)
def test_latin_words_the_knowledge_base_has_or_pinyin_are_answered(
    text: str, expected: str
) -> None:
    result = default_index().search(text)
    assert result.answered
    assert result.results[0].id == expected


def test_a_latin_word_is_one_gram() -> None:
    assert grams("abc类") == ["abc", "类", "abc类"]
    assert grams("低保") == ["低", "保", "低保"]


def test_asking_is_read_as_typed_before_the_lexicon() -> None:
    c = default_index().confidence
    assert c.asks("低保能不能办")
    assert c.asks("要得不")  # the lexicon rewrites it to 可以, which asks nothing
    assert c.asks("啥子是五保")
    assert not c.asks("我和老伴")
    assert not c.asks("屋头就我一个")
    assert 0 < c.question_information < c.statement_information


def test_empty_and_symbol_only_queries_are_declined_without_results() -> None:
    for text in ["", "   ", "？？？", "😀😀"]:
        result = default_index().search(text)
        assert not result.answered
        assert result.results == ()


def test_results_are_best_first_and_capped() -> None:
    result = default_index().search("低保", top=5)
    scores = [hit.score for hit in result.results]
    assert scores == sorted(scores, reverse=True)
    assert len(result.results) == 5
    assert default_index().search("低保", top=1).results[0] == result.results[0]


def test_cli_json_matches_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    main(["kb", "search", "吃低保要什么条件", "--top", "2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"query", "answered", "results"}
    assert data["query"] == "吃低保要什么条件"
    assert data["answered"] is True
    assert len(data["results"]) == 2
    first = data["results"][0]
    assert set(first) == {"id", "title", "score"}
    assert first["id"] in topic_ids()
    assert isinstance(first["score"], float)


def test_cli_declines_out_of_scope_as_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "search", "护照怎么办理", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["answered"] is False


def test_cli_show_prints_sources_and_an_unknown_id_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["kb", "show", "dibao.conditions"])
    out = capsys.readouterr().out
    assert "渝民〔2022〕239号" in out
    assert "004_facdb4cf398febe9.txt" in out
    with pytest.raises(SystemExit) as exited:
        main(["kb", "show", "dibao.conditon"])
    assert exited.value.code == 2
    assert "dibao.conditions" in capsys.readouterr().err  # the close match is named


def test_a_gram_only_in_answers_counts_half_toward_its_rarity() -> None:
    """Answers repeat the same verbs (发放, 停发); a gram in two entries' answers only is
    as common as one in a single entry's questions, and rarer than one in two."""
    base = load_entries()[0]

    def entry(n: int, question: str, answer: str) -> Entry:
        return dataclasses.replace(base, id=f"t.{n}", title=question, questions=(), answer=answer)

    index = Index(
        [entry(0, "甲乙", "丙"), entry(1, "丁", "丙"), entry(2, "甲", "戊"), entry(3, "己", "庚")]
    )
    assert index.idf["丙"] == pytest.approx(index.idf["乙"])  # answers of 2 = questions of 1
    assert index.idf["丙"] > index.idf["甲"]  # in the questions of 2
    assert index.idf["丙"] == pytest.approx(math.log(1 + (4 - 1 + 0.5) / (1 + 0.5)))


def test_an_index_over_other_entries_works_alone() -> None:
    entries = [e for e in load_entries() if e.id.startswith("tekun.")]
    index = Index(entries)
    assert index.search("五保户好多钱").results[0].id == "tekun.standard"
    assert all(hit.id.startswith("tekun.") for hit in index.search("低保").results)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_search_never_fails_and_stays_in_range(text: str) -> None:
    result = default_index().search(text)
    assert len(result.results) <= 3
    for hit in result.results:
        assert 0.0 <= hit.score <= 100.0
        assert default_index().get(hit.id) is not None
    assert not result.answered or result.results


def test_quality_goals_on_the_evaluation_sets() -> None:
    """Issue #2's goals, measured as `residentbot kb eval` does. The dev set was used to
    tune; the holdout and the fresh set were not, and are held to what they have shown,
    to catch regressions."""
    report = {s.name: s.search for s in evaluate(load_eval_set()).sets}
    dev, holdout, fresh = report["kb_dev"], report["kb_holdout"], report["kb_fresh"]
    assert dev.top1 >= 0.93
    assert dev.top3 >= 0.97
    assert dev.rejection >= 0.95
    for later in (holdout, fresh):
        assert later.top1 >= 0.89
        assert later.top3 >= 0.97
        assert later.rejection >= 0.95
    # what went wrong in use: statements answered as questions, dialect questions missed
    use = report["kb_use"]
    assert use.rejection >= 0.95
    assert use.top1 >= 0.7
    assert use.top3 >= 0.95


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("有人要跳楼", "emergency.now"),  # danger needs no programme's name
        ("屋头揭不开锅了 咋办", None),  # hardship is ours, whichever entry answers
        ("领城乡居民养老保险的钱 低保算不算收入", "pension.not_counted"),
        ("没交失业保险 失业半年了没收入", "linshi.unemployed"),
        ("失业没买失业保险怎么办", "linshi.unemployed"),  # names only another service
        ("有残疾证怎么领补贴", "disability.living_subsidy"),  # having it is no asking for it
    ],
)
def test_questions_of_ours_are_answered_even_next_to_other_services(
    question: str, expected: str | None
) -> None:
    result = default_index().search(question)
    assert result.answered
    assert expected is None or result.results[0].id == expected


@pytest.mark.parametrize(
    "question",
    [
        "失业保险金咋个领",
        "医保报销比例是好多",
        "企业职工养老保险补缴",
        "残疾人考驾照要啥子条件",
        "残疾证在哪里办",  # the 残联 issues it
        "残疾人证咋个办",
        "低保户的残疾证丢了咋个补办",
    ],
)
def test_other_departments_services_are_declined(question: str) -> None:
    """They share words with our entries (失业, 养老, 医保, 残疾, 车辆) but are not ours.
    A service whose name holds a word of ours (残疾 of 残疾证) is no match for our
    entries about that word."""
    assert not default_index().search(question).answered


def test_the_bar_follows_domain_and_foreign_terms() -> None:
    c = default_index().confidence
    assert c.judge("低保怎么申请") == (True, c.domain_bar)
    assert c.judge("明天下不下雨") == (False, c.other_bar)
    assert c.judge("公积金怎么取") == (False, c.foreign_bar)
    assert c.judge("残疾考驾照") == (False, c.other_bar)  # 残疾 is ours, 驾照 is not
    assert c.judge("办残疾证") == (False, c.foreign_bar)  # 残疾 only inside the service
    assert c.unshadow("残疾证在哪里办") == " 里办"
    assert c.unshadow("残疾考驾照") == "残疾考驾照"
    assert c.domain_bar < c.other_bar < c.foreign_bar


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="低保申请多少钱五特困我家怎么", min_size=1, max_size=20),
    st.lists(st.text(alphabet="低保申请多少钱五特困我家", min_size=1, max_size=20), min_size=1),
)
def test_similarity_is_the_best_phrasing_exactly(query: str, phrasings: list[str]) -> None:
    """`similarity` stops early; it must give what scoring every phrasing gives."""

    def score(p: str) -> float:
        common = LCSseq.similarity(query, p)
        return (fuzz.ratio(query, p) + 100.0 * common / min(len(query), len(p))) / 2

    assert similarity(query, phrasings) == pytest.approx(max(map(score, phrasings)))


def test_a_large_knowledge_base_picks_candidates_from_rare_grams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above POOL entries, candidates come from the query's rarest grams within
    READ_BUDGET postings, and only POOL of them are scored exactly. Forced on the real KB
    (10 of 52 entries, 200 postings), the best answers must match exact scoring nearly
    always."""
    import knowledge.search as search

    questions = [q.text for s in load_eval_set() for q in s.in_scope]
    exact = Index(load_entries())
    monkeypatch.setattr(search, "POOL", 10)
    monkeypatch.setattr(search, "READ_BUDGET", 200)
    pruned = Index(load_entries())
    same = sum(exact.search(q).results[:1] == pruned.search(q).results[:1] for q in questions)
    assert same / len(questions) >= 0.95
    # ... and the pruning did happen: for most questions only POOL entries were scored
    scored = [len(pruned._bm25(list(dict.fromkeys(grams(pruned.normalize(q)))))) for q in questions]
    assert scored.count(10) >= len(scored) / 2
