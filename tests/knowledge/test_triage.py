"""Urgency triage (knowledge/triage.py, knowledge/triage.yaml; RULES.md "Urgency (triage)")."""

from __future__ import annotations

import functools
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

import bot.cli
from bot.render import render
from knowledge.kb import parse_source
from knowledge.text import compact
from knowledge.triage import (
    DATA_FILE,
    EMERGENCY_NUMBERS,
    HERE,
    LEVELS,
    Example,
    Triage,
    TriageError,
    Triager,
    default_triager,
    load,
    normalise,
    read_examples,
    training_files,
    triage,
)
from knowledge.triage_model import logistic_regression, naive_bayes, ngrams

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = default_triager().signals


def _bench() -> ModuleType:
    """bench/triage_eval.py, the evaluation the goals are measured with."""
    spec = importlib.util.spec_from_file_location("triage_eval", ROOT / "bench" / "triage_eval.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["triage_eval"] = module
    spec.loader.exec_module(module)
    return module


# --- the examples of the brief and of RULES.md ----------------------------------------

BRIEF = [
    ("临时救助怎么申请", "none"),
    ("如果房子塌了能申请什么", "none"),
    ("没饭吃的人可以申请什么救助", "none"),
    ("听说着火了可以领补助吗", "none"),
    ("房子塌了没地方住", "urgent"),
    ("不想活了", "emergency"),
    ("不是没饭吃，是想问低保", "none"),
    ("没有着火", "none"),
    ("现在不缺吃的", "none"),
    ("去年房子塌过，现在修好了", "none"),
    ("我活着还有啥子意思", "emergency"),
    ("要是再这样我就不活了", "emergency"),
]


@pytest.mark.parametrize(("text", "level"), BRIEF)
def test_brief_examples(text: str, level: str) -> None:
    assert triage(text).level == level


# --- every signal, with dialect, typos and indirect phrasings ---------------------------

EXAMPLES: dict[str, list[str]] = {
    "self_harm": [
        "不想活了",
        "想死",
        "活不下去了",
        "我准备去喝农药",
        "站在楼顶想跳楼",
        "她割腕了",
        "活起没得意思",
        "干脆死了算球",
        "不想或了",
        "我想自杀",
    ],
    "violence": [
        "我老公又打我了",
        "被家暴了",
        "他说要杀我",
        "我遭老汉打了",
        "我着打了",
        "他拿菜刀追着我砍",
        "有人威胁要弄死我",
    ],
    "medical_emergency": [
        "我妈晕倒了",
        "老汉昏迷了喊不醒",
        "爷爷喘不过气",
        "我出不赢气了",
        "外公大出血",
        "老伴心脏病犯了",
        "奶奶晕到了",
    ],
    "fire_now": ["着火了", "屋头失火了", "厨房起火了", "房子烧起来了"],
    "flood_now": ["水淹进屋头了", "我们被困在房顶上", "发大水了困在二楼"],
    "cry_for_help": ["救命！", "快来人啊"],
    "missing_person": ["我妈老年痴呆走丢了", "娃儿放学到处都找不到了"],
    "no_food": [
        "屋头没得米了",
        "家里没饭吃了",
        "我三天没吃东西了",
        "老两口在屋头饿饭",
        "揭不开锅了",
        "没反吃了",
    ],
    "no_shelter": ["我没地方住了", "今晚没得地方睡", "现在睡大街", "被房东赶出来了"],
    "home_destroyed": ["房子塌了", "屋头的房子垮了", "房子被水冲了", "房子烧光了", "房子踏了"],
    "accident_no_money": ["老公出车祸住院，医药费交不起", "在工地摔断了腿没钱治"],
    "illness_no_money": ["突发重病没钱治", "住院交不起钱", "娃儿得了白血病，钱都借遍了"],
    "child_unattended": ["娃儿没人管", "父母都不在了，娃儿没人照顾", "娃儿一个人在屋头"],
    "elder_alone": ["老人一个人在家瘫在床上没人照顾", "老辈子卧床好几天了，没人管"],
    "disabled_alone": ["我弟弟是智力残疾，一个人在屋，好几天没人送饭"],
    "disaster": ["我们这里受灾了", "村里遭了冰雹", "昨天屋头着火了"],
}


def test_every_signal_has_examples() -> None:
    assert set(EXAMPLES) == set(SIGNALS)


@pytest.mark.parametrize(
    ("signal", "text"), [(s, t) for s, texts in EXAMPLES.items() for t in texts]
)
def test_signal(signal: str, text: str) -> None:
    result = triage(text)
    assert signal in result.signals
    assert result.level == SIGNALS[signal].level


@pytest.mark.parametrize(
    "text",
    [
        "不是没饭吃，是想问低保",
        "没有着火",
        "家里没被淹，就是问一下补贴",
        "他没打我，就是不给生活费",
        "房子没塌，只是裂了几条缝",
        "我们还不至于没饭吃",
        "我不是想自杀，是想问心理咨询",
    ],
)
def test_negation_clears(text: str) -> None:
    assert triage(text).level == "none"


def test_negation_needs_to_touch_the_match() -> None:
    """A 不 elsewhere in the clause does not negate: 不得不, 不知道."""
    assert triage("我不得不睡大街了").level == "urgent"
    assert triage("不知道怎么办，家里没饭吃了").level == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "如果房子塌了能申请什么",
        "要是家里没饭吃了，可以找哪个",
        "万一着火了政府管不管",
        "房子塌了的话有补助吗",
        "假如以后生了大病没钱治怎么办",
        "如果老人晕倒了没人知道怎么办",
    ],
)
def test_hypotheticals_are_none(text: str) -> None:
    assert triage(text).level == "none"


@pytest.mark.parametrize(
    "text", ["要是再这样我就不活了", "如果低保批不下来我就去跳河", "万一他再打我怎么办"]
)
def test_self_harm_and_violence_stay_emergencies_when_hypothetical(text: str) -> None:
    assert triage(text).level == "emergency"


def test_a_hypothetical_encounter_clears_violence() -> None:
    assert triage("如果遇到家暴应该找哪个部门").level == "none"
    assert triage("万一他再打我怎么办").level == "emergency"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # two warning signs together: despair or burden with a farewell or a plan
        ("我不想拖累娃儿了 药都买好了", "emergency"),
        ("日子过不下去了，以后不麻烦你们了", "emergency"),
        ("对不起大家了 我先走一步", "emergency"),
        ("我现在站在桥上 不想回去了", "emergency"),
        ("帮我跟娃儿说 爸爸对不起他们 以后要听妈妈的话", "emergency"),  # two farewells
        # one alone is an ordinary message
        ("我不想拖累儿女，想自己申请低保", "none"),
        ("日子过不下去了，想问问低保怎么申请", "none"),
        ("我先走一步了 明天再来办", "none"),
        ("我站在桥上等车", "none"),
        ("以后要听妈妈的话", "none"),
        ("对不起 我走了 明天再来", "none"),
        ("对不起 我打错了", "none"),
        ("材料都准备好了 对不起让你们久等了", "none"),
    ],
)
def test_indirect_suicide_talk_needs_two_signs(text: str, level: str) -> None:
    result = triage(text)
    assert result.level == level
    assert ("self_harm" in result.signals) == (level == "emergency")


def test_a_breaker_ends_the_hypothetical() -> None:
    assert triage("如果房子塌了能申请什么").level == "none"
    assert triage("如果房子塌了能申请什么，但是现在家里已经没米了").level == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "没饭吃的人可以申请什么救助",
        "被家暴的人可以申请临时救助吗",
        "房子被洪水冲了的家庭有什么补助",
        "瘫痪在床没人照顾的老人可以申请什么",
        "听说隔壁村发大水了，那边的人能领救助吗",
        "新闻上说有人跳楼",
    ],
)
def test_questions_about_others_are_none(text: str) -> None:
    assert triage(text).level == "none"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("我家娃儿在学校被同学打了 老师已经处理了", "none"),
        ("他打我 派出所已经处理了 但是他现在又来了", "emergency"),
        ("我以前想过自杀 现在好了 想做心理咨询", "none"),
        ("我以前想过自杀 现在又想了", "emergency"),
        ("村上说今年可能要发洪水 让我们提前准备", "none"),
        ("涨水了 已经淹到腰了", "emergency"),
        # displaced after it: the fire is over, the home is lost
        ("家里失火烧了 现在借住在村委会", "urgent"),
        ("屋头着火了 出不去", "emergency"),
        # a yes/no question about it
        ("我们村今年受灾了吗 政府说要统计", "none"),
        ("我们村受灾了 庄稼全毁了", "urgent"),
    ],
)
def test_resolved_and_forecast(text: str, level: str) -> None:
    assert triage(text).level == level


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # self-harm, violence or a disaster named as the topic of a general question, of
        # someone else in a hypothetical, or of the past (an audit found such false alarms)
        ("自杀的人家属能领什么补助", "none"),
        ("喝农药的人送到医院 抢救的费用能报不", "none"),
        ("割腕未遂的娃儿 学校有心理老师管不", "none"),
        ("要是哪个想不开 村里有没有人管", "none"),
        ("家庭暴力归哪个部门管", "none"),
        ("遭抢劫是前几年的事了 现在想问低保", "none"),
        ("着火的时候往哪里跑", "none"),
        ("如果着火了应该打什么电话", "none"),
        # the kinds the fifth held-out set showed after its measurement, my wordings
        ("我前夫以前动手打人 现在离了婚 各过各的", "none"),
        ("如果有人打我 先报警还是先找妇联", "none"),
        ("要是邻居家有人喊救命 可以帮忙报警不", "none"),
        ("我不想活在城里了 想回老家种地", "none"),
        ("我没吃早饭是在节食 不是没钱", "none"),
        ("上回涨水屋头进水了 后来修好了", "none"),
        ("前几年想过不活了 现在日子有奔头 好多了", "none"),
        ("笑死 我妈说要打死我 因为我又没洗碗", "none"),
        ("他以前打我 现在离了婚 但是他又来了", "emergency"),
        ("不想活在这个世上了", "emergency"),
        ("谢谢孃孃这几年照顾 我先走一步", "emergency"),
        ("洪水过了 屋头墙泡垮了 没法住了", "urgent"),
        ("我没吃饭 一分钱都没得 不是减肥", "urgent"),
        # the speaker in danger now, or the wish named, stays an emergency
        ("想自杀的人可以打什么电话", "emergency"),
        ("我自杀未遂 现在还想死", "emergency"),
        ("被家暴了可以申请什么救助 他还在屋头", "emergency"),
        ("要是有人再来打我 我咋个办", "emergency"),
        ("发洪水了 水已经进屋了 哪个管我们", "emergency"),
        ("我不想活了", "emergency"),
        ("他拿刀要砍我", "emergency"),
        ("屋头着火了", "emergency"),
    ],
)
def test_a_general_hypothetical_or_past_frame_clears(text: str, level: str) -> None:
    assert _rules().triage(text).level == level  # the rules themselves, not the model
    assert triage(text).level == level


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # the kinds the sixth held-out set showed after its measurement, my wordings:
        # on the floor and unable to get up, or answering only with a moan
        ("我外公在卫生间滑倒了 趴在地板上爬不起来", "emergency"),
        ("对门孃孃跌在楼梯上动不了 我喊她 她光在哼", "emergency"),
        ("以前我妈经常摔在地上起不来 能办残疾证不", "none"),
        # the adults are the ones gone and not back: a child without a carer, not missing
        ("楼上那个女娃儿 大人出去两个多月了没回来 她自己煮面吃", "urgent"),
        ("孙子出门到现在没回来 天都黑了", "emergency"),
        # a flood told by what it spoiled is over (urgent), unless it still rises or
        # someone is in it; sleeping in the car
        ("洪水冲进院坝 家电全泡坏了 全家人在车子头过夜", "urgent"),
        ("屋头进水了 水退了以后满屋淤泥 床也泡烂了", "urgent"),
        ("上个月房子遭水淹了 现在修好了 可以补助不", "none"),
        ("外面大水还在涨 家具都泡了 我们出不去", "emergency"),
        ("水淹进屋了 家具都泡了 我们在楼上下不去", "emergency"),
        ("这个天雨一直下 河水一直在涨 好吓人", "none"),
        # a victim in a hypothetical with no one named who would do it; a victim named as
        # a category; an event named as a past occasion
        ("如果被人打了 找哪个部门", "none"),
        ("要是他再打我 我咋个办", "emergency"),
        ("万一又遭家暴 我跑哪里去", "emergency"),
        ("遭了虐待的女人 可以申请临时救助不", "none"),
        ("家暴的女的 现在还在被打", "emergency"),
        ("他打我那次 脑壳缝了三针 医药费能报不", "none"),
        ("他又在打我 跟上次打我那次一样", "emergency"),
        ("发大水那年屋头遭冲了 现在重新修了 还能补不", "none"),
        ("着火了 要开啥子证明才能申请", "urgent"),
        # a farewell that takes the child along, or finds it better to be gone, with a
        # second sign; each alone is ordinary
        ("娃儿跟到我天天吃苦 不如我带他一起走", "emergency"),
        ("我想了好几天 还是走了好 谢谢你们这些年的照顾", "emergency"),
        ("这个厂工资太低了 还是走了好 去广东打工", "none"),
        ("娃跟着我吃苦 想申请低保", "none"),
        ("周末带娃儿一起走 去外婆家", "none"),
        # the same kinds in more wordings: a gap before the hypothetical victim, "现在还能
        # 申请" is no "still now", sitting on the floor, parents unreachable, bedding
        # soaked, sleeping in a van
        ("要是哪天遭了家暴 妇联那边管不管", "none"),
        ("发洪水那年冲坏的房子 现在还能申请补助不", "none"),
        ("外婆在灶房跌倒了 坐在地上站不起来 脸煞白", "emergency"),
        ("侄女的爹妈在外地打工 两年多了联系不上 她一个人住在老屋", "urgent"),
        ("山洪过了 铺盖全泡烂了 今晚没得睡的", "urgent"),
        ("涨水过后屋头住不成了 一家人睡在货车上", "urgent"),
    ],
)
def test_what_the_sixth_held_out_set_showed(text: str, level: str) -> None:
    assert _rules().triage(text).level == level  # the rules themselves, not the model
    assert triage(text).level == level


def test_the_advice_matches_the_signal() -> None:
    """着 of 着火 is no passive, 打什么电话 and 遭电打 are no blows: not violence."""
    result = triage("着火了应该打什么电话")
    assert result.signals == ("fire_now",)
    assert _data()["advice"]["emergency"]["signals"]["fire_now"] in result.advice
    assert "伤害您的人" not in result.advice
    assert triage("老汉儿遭电打到了 倒在地上").signals == ("medical_emergency",)  # not a blow


def test_about_oneself_is_not_about_others() -> None:
    assert triage("被家暴的妇女可以申请什么").level == "none"
    assert triage("我是被家暴的妇女，他现在还在打我").level == "emergency"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("去年房子塌过，现在修好了", "none"),
        ("前几年房子被洪水冲了，政府帮我们修好了", "none"),
        ("去年房子塌了，到现在还没修，一家人住在棚棚里", "urgent"),
        ("我妈晕倒过好几次，能申请医疗救助吗", "none"),
        ("他经常晕倒，能办低保吗", "none"),
        ("昨晚着火了，房子烧光了", "urgent"),  # a disaster that happened: not 119 now
        ("老伴脑溢血在医院抢救，我们实在没钱了", "urgent"),  # in hospital: not 120
    ],
)
def test_past_and_present(text: str, level: str) -> None:
    assert triage(text).level == level


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("屋头米都快吃完了 想问下低保咋个申请", "urgent"),  # a question does not clear it
        ("儿子在工地上做事 从架子上摔下来了 医院要押金", "urgent"),  # work, and a harm
        ("我和孙女两个人住 她发高烧抽筋 叫不醒", "emergency"),  # people, and what happens
        ("我住在民族路5号 快来 他拿着刀", "emergency"),
    ],
)
def test_an_answer_that_also_tells_a_danger_still_raises_it(text: str, level: str) -> None:
    assert triage(text).level == level


@pytest.mark.parametrize(
    "text",
    [
        "低保一个月多少钱",
        "我名下没有房子，能申请低保吗",
        "我老伴去世了，丧葬费去哪里领",
        "家里有人住院了，住院费能报销多少",
        "老人生活不能自理，能申请特困供养吗",
        "我不想拖累儿女，想自己申请低保",
        "我每天要吃安眠药才睡得着",
        "低保申请了半年都没反应",
        "家里的煤气罐没气了",
        "过年要杀年猪",
        "打人工电话一直占线",
        "打死我也不信低保这么难办",
        "着火险怎么买",
        "想死你们了",
        "受灾群众生活救助标准是多少",
        "父母都去世了，我能单独申请低保吗",
        "娃儿爹妈都死了 有啥子补助",
        "孙子孙女爹妈都不管 我们老的带 有没得补贴",
        # 死 / 火 / 打 / 水 / 动 in harmless words
        "手机掉水里了能补办吗",
        "腿抽筋了",
        "政策看迷糊了",
        "电脑不动了",
        "还要打证明吗",
        "学校要饭钱",
        "没有人打我 我是想问妇联的电话",
        "娃儿一个人在屋头写作业 我下班就回去 想问托育补贴",
        "我之前被房东赶出来过 现在租到房子了",
        "我老公死了好几年了 能申请低保吗",
        "屋头的狗死了 好伤心",
        "这个视频火起来了",
        "看到账单我都出冷汗了",
        "你们要打我电话吗",
        "用绳子捆东西",
        "切菜割手了",
        "腿疼 从屁股痛到膝盖",
        "我们村的路被水冲了一截 车子过不去",
        "昨晚进贼了 东西被偷光了 能报案吗",
        # answers to the questionnaire (an audit found each raised an alarm)
        "屋头三个人 我 老伴 还有孙子",
        "我和老伴还有孙子",
        "三口人，我、老伴和孙子",
        "屋头就我和老伴两个人",
        "我和孙女两个人住",
        "我男人在工地上班",
        "我男的在工地上做 一个月两千五 不稳定",
        "儿子在外头打工 自己都顾不到 养不起",
        "我住在解放碑民族路5号",
        "就我一个人",
    ],
)
def test_ordinary_questions_are_none(text: str) -> None:
    assert triage(text).level == "none"


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("ＷＯ 家　没 饭 吃 了！！！", "no_food"),  # full-width, spaces
        ("屋头莫得吃的了", "no_food"),
        ("不想活了😭😭", "self_harm"),
        ("<b>着火了</b>", "fire_now"),
        ("你好\n我家房子塌了\n请问怎么办", "home_destroyed"),
        ("如果房子塌了能申请什么\n我家现在没米了", "no_food"),  # a line ends the "if"
        ("娃儿他爸坐牢了他妈也跑了娃儿一个人在屋头没人管", "child_unattended"),
        (
            "你好我想问一下临时救助怎么申请我家房子昨晚被大水冲垮了现在一家人住在学校里面",
            "home_destroyed",
        ),
        ("请问低保要什么条件，我们家现在已经没米了，老公又生病住院，钱都借完了", "no_food"),
    ],
)
def test_dialect_typos_and_long_messages(text: str, signal: str) -> None:
    assert signal in triage(text).signals


def test_a_space_between_phrases_ends_a_clause() -> None:
    """Residents who type no punctuation separate clauses with spaces; spaces inside a
    phrase ("没 饭 吃") are only gaps."""
    lexicon = default_triager().lexicon
    assert normalise("米缸空了 娃儿饿得哭", lexicon) == "米缸空了，娃饿得哭"
    assert normalise("我 家 没 饭 吃", lexicon) == "我家没饭吃"
    # a negation does not reach into the next clause: 屋头没人 / 着火了
    assert triage("屋头没人 着火了").level == "emergency"
    assert triage("娃儿才六岁 一个人在家好几天了").level == "urgent"


def test_result_order_and_covered_signals() -> None:
    """Most serious first; a fire now covers the disaster it also is."""
    result = triage("救命啊我家房子着火了")
    assert result.level == "emergency"
    assert result.signals[0] in {"fire_now", "cry_for_help"}
    assert "disaster" not in result.signals
    mixed = triage("家里没饭吃了，老公又打我")
    assert mixed.signals == ("violence", "no_food")
    assert mixed.level == "emergency"


# --- advice -----------------------------------------------------------------------------


def test_emergency_advice_gives_the_numbers_first() -> None:
    advice = triage("不想活了").advice
    for number in EMERGENCY_NUMBERS:
        assert number in advice
    assert advice.index("110") < advice.index("窗口")
    assert "社会救助窗口" in advice


def test_urgent_advice_explains_the_referral_and_first_aid() -> None:
    advice = triage("屋头没得米了").advice
    assert "乡镇（街道）社会救助窗口" in advice
    assert "小金额先行救助" in advice
    assert "急难发生地" in advice
    assert "110" not in advice


def test_advice_leads_with_the_first_signal() -> None:
    data = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))["advice"]
    assert triage("我妈晕倒了").advice.count(data["emergency"]["signals"]["medical_emergency"]) == 1
    assert triage("我没地方住了").advice.startswith(data["urgent"]["signals"]["no_shelter"])


def test_none_has_no_advice() -> None:
    assert triage("低保怎么申请") == Triage("none", (), "")


def test_urgent_advice_sources_are_seed_sections() -> None:
    data = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))["advice"]["urgent"]
    sources = [parse_source(s, "triage.yaml") for s in data["sources"]]
    assert {s.document for s in sources} == {
        "003_8311b5a252618438.txt",
        "004_facdb4cf398febe9.txt",
    }


def test_to_dict_is_the_contract() -> None:
    result = triage("房子塌了没地方住")
    data = result.to_dict()
    assert set(data) == {"level", "signals", "advice"}
    assert data["signals"] == list(result.signals)
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


# --- any text ---------------------------------------------------------------------------

ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.text(alphabet="不没想活了死着火房子塌娃人管如果的话听说去年现在，。！？ 屋头莫得米打被"),
    st.builds(lambda a, b: f"<p onclick='x'>{a}</p>{b}", st.text(), st.text()),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "So", "Sk"])),
)


def _check(result: Triage) -> None:
    assert result.level in LEVELS
    assert all(s in SIGNALS for s in result.signals)
    assert len(set(result.signals)) == len(result.signals)
    if result.signals:
        assert result.level == min((SIGNALS[s].level for s in result.signals), key=LEVELS.index)
    else:
        assert result.level == "none"
    if result.level == "emergency":
        for number in EMERGENCY_NUMBERS:
            assert number in result.advice


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_any_text_gives_a_valid_result(text: str) -> None:
    result = triage(text)
    _check(result)
    assert triage(text) == result  # deterministic


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_a_sentence_of_its_own_is_never_hidden(before: str, after: str) -> None:
    """Whatever surrounds it, a sentence that says so is an emergency / is urgent."""
    emergency = triage(f"{before}。不想活了。{after}")
    assert emergency.level == "emergency"
    assert "self_harm" in emergency.signals
    urgent = triage(f"{before}。屋头没得米了。{after}")
    assert urgent.level in {"urgent", "emergency"}
    assert "no_food" in urgent.signals


def test_huge_and_odd_texts() -> None:
    for text in [
        "",
        " \n\t",
        "\x00\x01\x7f" * 100,
        "\ud800不想活了",
        "😀" * 10_000,
        "如果房子塌了" * 20_000,
        "晕倒" * 10_000 + "住院",
        "<script>alert('着火了')</script>" * 1000,
    ]:
        _check(triage(text))
    assert triage("\ud800不想活了").level == "emergency"


def test_same_result_from_a_fresh_load() -> None:
    fresh = load()
    for text, _ in BRIEF:
        assert fresh.triage(text) == triage(text)


def test_fast_enough_for_every_message() -> None:
    """Typical messages well under 0.5 ms each (the median of the evaluation set)."""
    bench = _bench()
    texts = [item.text for path in bench.SETS for item in bench.load_set(path)]
    times = []
    for text in texts * 3:
        start = time.perf_counter()
        triage(text)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.0005


# --- the statistical layer -------------------------------------------------------------


@functools.cache
def _rules() -> Triager:
    """The rules of triage.yaml alone, without the statistical layer."""
    return Triager(_data())


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        # wordings no pattern was written for, in no labelled set
        ("我现在在天台上 不想下去了", "self_harm"),
        ("我女儿说她撑不住了 现在一个人在江边", "self_harm"),
        ("后山的泥巴一直往下梭 我们还在屋头", "flood_now"),  # 山在往下滑 has a rule since
        ("水已经漫到门口了 还在涨", "flood_now"),
        ("有人把我娃儿抱上车开走了", "violence"),
        ("我婆婆在厕所滑倒了 一直喊腰杆痛 起不来", "medical_emergency"),
    ],
)
def test_the_model_catches_what_no_rule_was_written_for(text: str, signal: str) -> None:
    assert _rules().triage(text).level == "none"
    result = triage(text)
    _check(result)
    assert result.level == "emergency"
    assert result.signals == (signal,)
    lead = _data()["advice"]["emergency"]["signals"][signal]
    assert lead in result.advice


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_the_model_only_ever_raises_the_level(text: str) -> None:
    assert LEVELS.index(triage(text).level) <= LEVELS.index(_rules().triage(text).level)


def test_the_model_raises_the_level_of_labelled_messages_never_lowers_it() -> None:
    bench = _bench()
    for path in bench.SETS:
        for item in bench.load_set(path):
            rules, full = _rules().triage(item.text), triage(item.text)
            assert LEVELS.index(full.level) <= LEVELS.index(rules.level), item.text
            if full.level == rules.level:
                assert full.signals == rules.signals, item.text


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return [e for f in training_files(_data()) for e in read_examples(f)]


def test_the_cues_of_the_model_silence_it(examples: list[Example]) -> None:
    """Hearsay about others and a carer on the way stop the model where it would call a
    danger; hearsay about one's own family does not."""
    silenced = ["群里说有人掉到河里了", "娃儿放学一个人在屋 我马上就回来"]
    assert [triage(text).level for text in silenced] == ["none", "none"]
    assert triage("群里说我爸倒在路边 叫不醒").level == "emergency"
    data = _data()
    data["model"]["cleared_by"] = data["model"]["urgent_cleared_by"] = []
    loud = Triager(data, examples)
    assert [loud.triage(text).level for text in silenced] == ["emergency", "urgent"]


def test_a_carer_silences_only_an_urgent_call_of_the_model(examples: list[Example]) -> None:
    """ "我带…" names someone caring for a child, which says nothing against a farewell."""
    farewell = "这日子熬到头了 娃我带起一起走 省得他留下来受苦"
    assert _rules().triage(farewell).level == "none"
    assert triage(farewell).level == "emergency"
    data = _data()
    data["model"]["cleared_by"].append("carer_present")  # as it was: any call silenced
    assert Triager(data, examples).triage(farewell).level == "none"


def test_the_model_learns_from_every_labelled_set_and_the_examples() -> None:
    bench = _bench()
    files = training_files(_data())
    names = [f.name for f in files]
    assert len(set(names)) == len(names)  # load(exclude=...) goes by name
    assert all(f.is_file() for f in files)
    assert set(names) == {p.name for p in bench.SETS} | {"triage_examples.yaml"}
    assert load(exclude=[p.name for p in bench.SETS]).model is not None  # the examples alone
    assert load(exclude=names).model is None
    assert Triager(_data()).model is None


def test_the_examples_are_not_copies_of_evaluation_messages() -> None:
    bench = _bench()
    examples = read_examples(HERE / "triage_examples.yaml")
    assert len(examples) >= 300
    assert {e.level for e in examples} == set(LEVELS)
    assert not {s for e in examples for s in e.signals} - set(SIGNALS)
    keys = [compact(e.text) for e in examples]
    assert len(set(keys)) == len(keys)
    evaluation = [compact(i.text) for p in bench.SETS for i in bench.load_set(p)]
    copies = [
        (example, other)
        for example in keys
        for other in evaluation
        if fuzz.ratio(example, other) >= 80
    ]
    assert copies == []


TOY = [({"a", "x"}, "p"), ({"a", "y"}, "p"), ({"b", "x"}, "q"), ({"b", "y"}, "q")]


def test_naive_bayes_and_logistic_regression_learn_a_toy_problem() -> None:
    for model in (naive_bayes(TOY), logistic_regression(TOY, epochs=20)):
        assert model.labels == ("p", "q")
        assert model.posterior({"a"})["p"] > 0.6
        assert model.posterior({"b", "x"})["q"] > 0.6
        assert model.posterior({"unseen"}) == pytest.approx({"p": 0.5, "q": 0.5}, abs=0.1)
        assert sum(model.posterior({"a", "y"}).values()) == pytest.approx(1.0)
    assert naive_bayes(TOY, ["q", "p"]).labels == ("q", "p")
    assert logistic_regression(TOY) == logistic_regression(TOY)  # deterministic
    # the order of a pass follows from each example, not from its place in the list, so
    # adding one message to the training does not reorder all the others
    assert logistic_regression(TOY[::-1]) == logistic_regression(TOY)
    with pytest.raises(ValueError, match="r"):
        naive_bayes(TOY, ["p", "q", "r"])


def test_ngrams_mark_the_ends() -> None:
    assert ngrams("救命", 1, 2) == {"救", "命", "\x02救", "救命", "命\x03"}
    assert ngrams("", 1, 3) == {"\x02\x03"}


# --- the data file is checked when it is loaded ----------------------------------------


def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    return data


def test_a_pattern_with_an_unrewritten_word_is_refused() -> None:
    data = _data()
    data["signals"]["no_food"]["patterns"].append("没有饭吃")
    with pytest.raises(TriageError, match="no_food"):
        Triager(data)


def test_an_also_rule_with_an_unrewritten_word_is_refused() -> None:
    data = _data()
    data["signals"]["no_food"]["also"][0]["with"] = [["莫得钱"]]
    with pytest.raises(TriageError, match="no_food"):
        Triager(data)


def test_an_unknown_cue_is_refused() -> None:
    data = _data()
    data["signals"]["no_food"]["cleared_by"].append("nonsense")
    with pytest.raises(TriageError, match="nonsense"):
        Triager(data)


def test_a_signal_without_advice_is_refused() -> None:
    data = _data()
    del data["advice"]["urgent"]["signals"]["no_food"]
    with pytest.raises(TriageError, match="no_food"):
        Triager(data)


def test_emergency_numbers_are_required() -> None:
    data = _data()
    data["advice"]["emergency"]["numbers"] = "请打110。"
    with pytest.raises(TriageError, match="12356"):
        Triager(data)


def test_a_bad_regular_expression_is_refused() -> None:
    data = _data()
    data["signals"]["fire_now"]["patterns"] = ["着火("]
    with pytest.raises(TriageError, match="fire_now"):
        Triager(data)


@pytest.mark.parametrize("key", ["cleared_by", "urgent_cleared_by"])
def test_an_unknown_cue_of_the_model_is_refused(key: str) -> None:
    data = _data()
    data["model"][key].append("nonsense")
    with pytest.raises(TriageError, match="nonsense"):
        Triager(data)


def test_a_concept_with_an_unrewritten_word_is_refused() -> None:
    data = _data()
    data["concepts"]["hunger"].append("没有饭")
    with pytest.raises(TriageError, match="hunger"):
        Triager(data)


def test_a_malformed_training_message_is_refused() -> None:
    with pytest.raises(TriageError, match="nonsense"):
        Triager(_data(), [Example("屋头没得米了", "urgent", ("nonsense",))])


# --- the command line -------------------------------------------------------------------


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    bot.cli.main(["triage", "不想活了", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data == triage("不想活了").to_dict()
    assert data["level"] == "emergency"
    assert data["signals"] == ["self_harm"]
    assert "12356" in data["advice"]


def test_cli_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    bot.cli.main(["triage", "房子塌了没地方住"])
    out = capsys.readouterr().out
    assert "急难" in out
    assert "没有地方住（no_shelter）" in out
    assert "小金额先行救助" in out
    bot.cli.main(["triage", "低保怎么申请"])
    out = capsys.readouterr().out
    assert "一般" in out
    assert "建议" not in out


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_cli_template_names_every_signal_in_chinese(signal: str) -> None:
    level = SIGNALS[signal].level
    out = render("cli", "triage", result={"level": level, "signals": [signal], "advice": ""})
    assert f"（{signal}）" in out
    assert f"{signal}（{signal}）" not in out  # a Chinese name, not the code again


# --- the evaluation sets and their goals --------------------------------------------------


MINIMUM_SIZE = {
    "triage.yaml": 160,
    "triage_holdout.yaml": 60,
    "triage_fresh.yaml": 150,
    "triage_blind.yaml": 100,
    "triage_unseen.yaml": 100,
    "triage_final.yaml": 80,
    "triage_untuned.yaml": 80,
    "triage_tune.yaml": 240,
    "triage_sealed.yaml": 160,
    "triage_more.yaml": 320,
}
TUNED = [
    "triage.yaml",
    "triage_fresh.yaml",
    "triage_blind.yaml",
    "triage_unseen.yaml",
    "triage_untuned.yaml",
    "triage_tune.yaml",
]


def test_evaluation_sets_are_large_enough() -> None:
    bench = _bench()
    assert [path.name for path in bench.SETS] == list(MINIMUM_SIZE)
    for path in bench.SETS:
        items = bench.load_set(path)
        assert len(items) >= MINIMUM_SIZE[path.name], path.name
        assert {item.level for item in items} == set(LEVELS)
        assert not {s for item in items for s in item.signals} - set(SIGNALS)
        assert len({item.text for item in items}) == len(items), f"{path.name}: a duplicate"


def test_evaluation_sets_do_not_overlap() -> None:
    bench = _bench()
    seen: dict[str, str] = {}
    for path in bench.SETS:
        for item in bench.load_set(path):
            assert item.text not in seen, (item.text, seen.get(item.text), path.name)
            seen[item.text] = path.name


def test_final_set_catches_every_emergency() -> None:
    """Tuned against for one round only; its urgent recall (92 %) is short of the goal
    on two family situations left as they are, but no emergency may be missed."""
    bench = _bench()
    report = bench.evaluate("final", bench.load_set(bench.EVAL_DIR / "triage_final.yaml"))
    assert report.recall("emergency") == 1.0, [(i.text, r.level) for i, r in report.misses]
    assert report.false_alarms <= bench.GOALS["false_alarm_max"]


@pytest.fixture(scope="module")
def unseen() -> dict[str, Any]:
    """Each set judged by a triager whose statistical layer was trained without it."""
    return {r.name: r for r in _bench().leave_one_set_out()}


# Floors on the leave-one-set-out figures, below those first measured with the statistical
# layer (every emergency caught in every set; urgent recall 96-100 %; false alarms 0-2.7 %),
# so that a change which makes unseen messages worse fails here.
UNSEEN_FLOORS = {"emergency_recall": 0.95, "urgent_recall": 0.92, "false_alarms": 0.05}
UNSEEN_OVERALL = {"emergency_recall": 0.99, "urgent_recall": 0.97, "false_alarms": 0.02}
# The two sets added to training last are harder (long-tail situations, indirect farewells):
# first measured leave-one-set-out with the rules written after reading their misses,
# sealed E 100 % / U 93.0 % / FA 7.5 %, more E 98.1 % / U 89.4 % / FA 2.3 %.
SET_FLOORS = {
    "triage_sealed.yaml": {"emergency_recall": 0.95, "urgent_recall": 0.90, "false_alarms": 0.08},
    "triage_more.yaml": {"emergency_recall": 0.95, "urgent_recall": 0.87, "false_alarms": 0.05},
}


def _figures(report: Any) -> dict[str, float]:
    return {
        "emergency_recall": report.recall("emergency"),
        "urgent_recall": report.recall("urgent"),
        "false_alarms": report.false_alarms,
    }


def _assert_floors(report: Any, floors: dict[str, float]) -> dict[str, float]:
    """The report's figures, each no worse than its floor (the misses shown if not)."""
    figures = _figures(report)
    misses = [(i.text, r.level) for i, r in report.misses]
    assert figures["emergency_recall"] >= floors["emergency_recall"], misses
    assert figures["urgent_recall"] >= floors["urgent_recall"], misses
    assert figures["false_alarms"] <= floors["false_alarms"], misses
    return figures


@pytest.mark.parametrize("name", list(MINIMUM_SIZE))
def test_leave_one_set_out_floors(unseen: dict[str, Any], name: str, record_property: Any) -> None:
    record_property(name, _assert_floors(unseen[name], SET_FLOORS.get(name, UNSEEN_FLOORS)))


def test_leave_one_set_out_overall(unseen: dict[str, Any]) -> None:
    counts = {e: dict.fromkeys(LEVELS, 0) for e in LEVELS}
    for report in unseen.values():
        for expected in LEVELS:
            for called in LEVELS:
                counts[expected][called] += report.confusion[expected][called]
    total = _bench().Report("all", 0, counts)
    assert total.recall("emergency") >= UNSEEN_OVERALL["emergency_recall"]
    assert total.recall("urgent") >= UNSEEN_OVERALL["urgent_recall"]
    assert total.false_alarms <= UNSEEN_OVERALL["false_alarms"]


def test_the_model_catches_most_of_what_the_rules_miss(unseen: dict[str, Any]) -> None:
    """On the two sets written last, the rules alone miss about four emergencies in ten;
    the statistical layer, trained without the set, must catch nine in ten of those."""
    bench = _bench()
    for name in ("triage_untuned.yaml", "triage_tune.yaml"):
        items = bench.load_set(bench.EVAL_DIR / name)
        missed = {
            i.text
            for i in items
            if i.level == "emergency" and _rules().triage(i.text).level != "emergency"
        }
        assert len(missed) >= 5, name  # the layer has work to do on this set
        still = {i.text for i, r in unseen[name].misses if i.level == "emergency"}
        assert len(missed & still) <= 0.1 * len(missed), (name, sorted(missed & still))


@pytest.mark.parametrize("name", TUNED)
def test_goals_on_the_sets_tuned_against(name: str) -> None:
    bench = _bench()
    report = bench.evaluate(name, bench.load_set(bench.EVAL_DIR / name))
    assert report.failures() == [], [(i.text, r.level) for i, r in report.misses]
    assert report.recall("emergency") == 1.0


def test_holdout_set(record_property: Any) -> None:
    """Reported, not tuned against; every emergency must still be caught."""
    bench = _bench()
    report = bench.evaluate("holdout", bench.load_set(bench.SETS[1]))
    figures = _figures(report)
    record_property("holdout", figures)
    print(f"holdout: {figures}")
    assert report.recall("emergency") == 1.0, [(i.text, r.level) for i, r in report.misses]


def test_held_out_sets_are_not_training_data() -> None:
    bench = _bench()
    trained = [HERE / "triage_examples.yaml", *bench.SETS]
    training = [compact(i.text) for p in trained for i in read_examples(p)]
    seen: set[str] = set()
    for path in bench.HELD_OUT:
        held = [compact(i.text) for i in bench.load_set(path)]
        assert len(held) >= 120, path.name
        assert len(set(held)) == len(held), path.name
        copies = [(h, t) for h in held for t in [*training, *seen] if fuzz.ratio(h, t) >= 80]
        assert copies == [], path.name
        seen.update(held)


# Floors at each held-out set's one measurement (in its header), so that a change which
# makes messages nobody trained on worse fails here.
HELD_OUT_FLOORS = {
    "triage_heldout.yaml": {"emergency_recall": 0.94, "urgent_recall": 0.95, "false_alarms": 0.05},
    "triage_heldout2.yaml": {"emergency_recall": 0.86, "urgent_recall": 0.95, "false_alarms": 0.1},
    "triage_heldout3.yaml": {
        "emergency_recall": 0.93,
        "urgent_recall": 0.91,
        "false_alarms": 0.065,
    },
    "triage_heldout4.yaml": {"emergency_recall": 0.89, "urgent_recall": 0.95, "false_alarms": 0.1},
    # measured once at 663f2fd (96.8 / 94.3 / 15.5 %), once after the fixes for general,
    # hypothetical and past frames (7e52712: 96.8 / 94.3 / 17.2 %), then its misses were
    # read for the next commit: it is no longer unseen, only never trained on (floors at
    # the second, unseen measurement)
    "triage_heldout5.yaml": {
        "emergency_recall": 0.96,
        "urgent_recall": 0.94,
        "false_alarms": 0.18,
    },
    # measured once, before any fix (94.3 / 95.0 / 4.0 %); its misses read since
    "triage_heldout6.yaml": {
        "emergency_recall": 0.94,
        "urgent_recall": 0.95,
        "false_alarms": 0.04,
    },
}


@pytest.mark.parametrize("name", list(HELD_OUT_FLOORS))
def test_held_out_set_floors(name: str, record_property: Any) -> None:
    bench = _bench()
    assert [p.name for p in bench.HELD_OUT] == list(HELD_OUT_FLOORS)
    report = bench.evaluate(name, bench.load_set(bench.ROOT / "bench" / name))
    record_property(name, _assert_floors(report, HELD_OUT_FLOORS[name]))


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # long-tail emergencies, each caught by a rule (not only by the statistical layer):
        # an overdose counted in tens, bleeding that goes on, electrocution, swept away,
        # a gas smell, a fire that cannot be put out, "救我", a runaway vehicle, a person
        # run off or a child not back, farewells, gas in a shut room, someone crushed;
        # then ordinary messages that share their words
        ("药柜里的降压药我吃了三十多颗 头好昏", "emergency"),
        ("老汉儿手上的口子血一直往下滴 包都包不住", "emergency"),
        ("工地上有个师傅触电了 趴在地上", "emergency"),
        ("河边耍水的娃儿遭水冲走了", "emergency"),
        ("屋头一股臭鸡蛋味 老人睡在里面叫不答应", "emergency"),
        ("厨房的火扑不灭 越来越大", "emergency"),
        ("救我 他拿刀在外头", "emergency"),
        ("货车刹车失灵了 冲到坡下去了", "emergency"),
        ("我妈有老年痴呆 早上跑出去了到现在没找到", "emergency"),
        ("娃儿放学三个钟头了还没回来 才六岁", "emergency"),
        ("过了今晚我就不在了 别找我", "emergency"),
        ("老伴的事拜托你们了 我要走了", "emergency"),
        ("天然气我打开了 门窗都关好了 不想活", "emergency"),
        ("树倒下来砸到一个过路的人", "emergency"),
        ("以前想过自杀 现在想通了 想问心理咨询", "none"),
        ("看了房子垮塌的视频 我们老房子能申请改造不", "none"),
        ("社区搞防溺水宣传 要发传单", "none"),
        ("吃了降压药头还是昏 医保能报好多", "none"),
        ("我要走了 明天再来问", "none"),
        ("钱放在抽屉里遭偷了 报警没用", "none"),
        ("跟老同学告别了 明天回老家", "none"),
        ("火锅店的火好旺 吃得巴适", "none"),
        # the kinds the audit and the leave-one-set-out misses showed: entrusting a pet
        # with a farewell, held against one's will, nobody answering the door for days,
        # 掐着我; then what is no danger or is over: a trip, a doctor, stranded on a journey,
        # after a fire or a flood (a disaster that happened: urgent)
        ("以后就不麻烦你们了 猫儿请邻居帮忙喂", "emergency"),
        ("老板不准我们走 手机也被收了 关在厂里", "emergency"),
        ("楼下孃孃三天没开门 敲门没人应", "emergency"),
        ("他勒着我脖子不放", "emergency"),
        ("出差三天 狗儿请邻居帮忙喂", "none"),
        ("医生不准我走 还要观察两天", "none"),
        ("困在高速服务区 钱包丢了", "none"),
        ("着火以后 一家人就剩身上穿的了", "urgent"),
        ("涨水以后 庄稼全淹了", "urgent"),
        # the kinds the fourth held-out set showed (toneless pinyin, jokes), my wordings
        ("wo bu xiang huo le", "emergency"),
        ("jiu ming you ren yao sha wo", "emergency"),
        ("ye ye hun dao le zai cai di li", "emergency"),
        ("要是今晚我没回信息 你们莫找我", "emergency"),
        ("这是最后一次给大家留言了", "emergency"),
        ("绳子都拴好了 对不起", "emergency"),
        ("煤窑冒水了 还有五个人没上来", "emergency"),
        ("妹妹是智障 放学以后一直没回家", "emergency"),
        ("我爸有老年痴呆 下午就不见了", "emergency"),
        ("sos 有人跟踪我", "emergency"),
        ("天天加班累得想死 哈哈 问个社保的事", "none"),
        ("输了钱 要跳河了哈哈 开玩笑的", "none"),
        ("我没想不开 帮朋友问心理热线", "none"),
        ("救命 这个网站一直打不开", "none"),
        ("头都要爆炸了 材料太多了", "none"),
        ("狗从楼上跳下去了 吓我一跳", "none"),
        ("减肥两天没吃饭了 哈哈", "none"),
        ("不是开玩笑 我真的不想活了", "emergency"),
        # the kinds the third held-out set showed, in wordings of my own
        ("今晚是我最后一晚了 对不起大家", "emergency"),
        ("工人在地下室遭煤气熏倒了 喊不答应", "emergency"),
        ("厨房闪爆了 我妈遭烧到了", "emergency"),
        ("隧道冒顶了 里头还有人", "emergency"),
        ("外公脑壳糊涂 一个人跑出去了 天都黑了", "emergency"),
        ("儿媳妇羊水破了 救护车还没来", "emergency"),
        ("wo men jia mei fan chi le", "urgent"),
        ("泥石流把我家房子推垮了 人都出来了 东西全没了", "urgent"),
        ("我是残疾人坐轮椅 照顾我的老伴病倒了 上厕所都难", "urgent"),
        ("商场跳楼价清仓 衣服好便宜", "none"),
        ("狗儿吃了老鼠药 兽医站在哪里", "none"),
        ("帮亲戚问一下 被家暴可以找哪个部门", "none"),
        ("老人走失了应该找哪个 想提前了解一下", "none"),
        ("地震以后房子裂了 不敢住 现在搭棚子住", "urgent"),
        # the kinds the second held-out set showed, in wordings of my own
        ("谢谢嬢嬢这些年的照顾 以后莫找我了", "emergency"),
        ("存折密码告诉我姐了 家里都安排好了 再见", "emergency"),
        ("屋头老人就交给你们了 我实在撑不住了", "emergency"),
        ("隧道塌了 里头还有三个人", "emergency"),
        ("后山在往下垮 石头一直在滚", "emergency"),
        ("孙女到处都找遍了 还是没看到人", "emergency"),
        ("我妈有点糊涂 早上出门到现在都没回来", "emergency"),
        ("幺儿在超市门口不见了 才三岁", "emergency"),
        ("衣服都送人了 以后我用不着了 谢谢你们这么多年的帮助", "emergency"),
        ("我现在在嘉陵江大桥上 你们莫来找我", "emergency"),
        ("电影里那个人跳楼了 看得我好难过", "none"),
        ("娃儿打游戏说要砍死对面的人 我说了他一顿", "none"),
        ("救命 这个表格好难填 看不懂", "none"),
        ("我老汉以前喝了酒打我妈 现在改了", "none"),
        ("我家狗走丢了 哪个看到了说一声", "none"),
        ("学校教了溺水怎么自救 我想再学一下", "none"),
        ("昨晚做梦梦到屋头着火了 吓死我了", "none"),
        ("他出去打工三年都没回家 我一个人带娃", "none"),
        ("谢谢你们 再见", "none"),
        ("旧衣服送人了 想问问低保的事", "none"),
    ],
)
def test_long_tail_emergencies_are_rules(text: str, level: str) -> None:
    assert _rules().triage(text).level == level
    result = triage(text)
    _check(result)
    assert result.level == level


@pytest.mark.parametrize(
    "text",
    [
        "都没有",
        "都莫得",
        "一个都没有",
        "啥子都没得",
        "我们都没有",
        "没得存款",
        "都没有收入",
        "家里人都没有工作",
        "没有 都没有",
        "不知道",
        "说不准",
        "1 4",
        "5",
        "两口人",
        "三千五",
        "没有车",
        "就一套房子",
        "要得",
    ],
)
def test_answers_to_the_questionnaire_are_none(text: str) -> None:
    """Every message is triaged, the questionnaire's short answers too: a false alarm here
    interrupts the screening (the statistical layer once called "都没有" no_food)."""
    assert triage(text).level == "none"
