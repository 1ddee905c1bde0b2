"""Reading what residents type: tables of real-looking replies, and properties."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import cn2an
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogues.answers import (
    ANSWERS_FILE,
    MAX_AGE,
    MAX_AMOUNT,
    MAX_CHARS,
    MAX_COUNT,
    UNKNOWN,
    Unknown,
    mentions_word,
    normalize,
    parse_age,
    parse_amount,
    parse_choice,
    parse_count,
    parse_district,
    parse_mobile,
    parse_township,
    parse_yes_no,
    people_and_rest,
    says_word,
)
from knowledge.places import District, districts, resolve_district

TODAY = dt.date(2025, 8, 1)
HUGE = "我家里的情况是这样的，" * 100 + "两千"


# --- normalize -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        (" １５００元！！😊 ", "1500元"),
        ("有的。。。", "有的"),
        ("YES!", "yes"),
        ("两  千   左右", "两 千 左右"),
        ("👍👍", ""),
        ("没有啊~~", "没有啊"),
        ("  ", ""),
        ("1.5万", "1.5万"),  # a decimal point inside stays
    ],
)
def test_normalize(typed: str, normal: str) -> None:
    assert normalize(typed) == normal


# --- the word lists ------------------------------------------------------------------


def test_word_lists_load_as_strings_and_yes_and_no_do_not_overlap() -> None:
    with ANSWERS_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    lists = ("unknown", "yes", "no", "zero", "vague", "bounds", "persons", "alone")
    lists += ("skip", "own_number", "no_number", "people_units", "people_groups", "lodging")
    lists += ("everyone", "latin_units")
    for key in lists:
        assert data[key], key  # "yes:" and "no:" unquoted would load as True / False keys
        assert all(isinstance(word, str) for word in data[key]), key
    assert not set(data["yes"]) & set(data["no"])
    assert not set(data["yes_prefixes"]) & set(data["no_prefixes"])
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in data["numerals"].items())


@pytest.mark.parametrize(
    ("name", "typed", "whole"),
    [
        ("skip", "跳过！", True),
        ("skip", "下一题", True),
        ("skip", "跳过吗我不知道", False),
        ("own_number", "就这个", True),
        ("own_number", "1", True),
        ("no_number", "不留", True),
        ("no_number", "不留了谢谢", False),
    ],
)
def test_says_word_is_the_whole_reply(name: str, typed: str, whole: bool) -> None:
    assert says_word(typed, name) is whole


@pytest.mark.parametrize(
    ("name", "typed", "found"),
    [
        ("everyone", "都七十多了", True),
        ("lodging", "租房子住", True),
        ("lodging", "住在 女儿那里", True),
        ("lodging", "自己的房子", False),
    ],
)
def test_mentions_word_finds_a_listed_word_inside(name: str, typed: str, found: bool) -> None:
    assert mentions_word(typed, name) is found


# --- amounts -------------------------------------------------------------------------

AMOUNTS: list[tuple[str, float | Unknown | None]] = [
    # numerals, Arabic, Chinese and mixed
    ("1500", 1500),
    ("三千五", 3500),
    ("1千2", 1200),
    ("一千五百块", 1500),
    ("2k", 2000),
    ("2K", 2000),
    ("1.5k", 1500),
    ("3w", 30000),
    ("1,500元", 1500),
    ("1，500元", 1500),
    ("１５００", 1500),
    ("１，５００元", 1500),
    ("1.2万", 12000),
    ("一万二", 12000),
    ("1万2", 12000),
    ("一点五万", 15000),
    ("五百元整", 500),
    ("两百五十块钱", 250),
    ("一千零五十", 1050),
    ("壹仟伍佰元", 1500),
    ("十块", 10),
    ("680.5", 680.5),
    # colloquial numerals: 俩 is two, 仨 three; k after a Chinese digit is 千
    ("俩千", 2000),
    ("俩万", 20000),
    ("仨千", 3000),
    ("两k", 2000),
    ("三w", 30000),
    ("1500rmb", 1500),
    ("每月¥800", 800),
    # approximations are the resident's own estimate
    ("大概两千", 2000),
    ("两千左右", 2000),
    ("3500多", 3500),
    ("两千出头", 2000),
    ("差不多两千", 2000),
    ("大概三千五左右吧", 3500),
    ("千把块", 1000),
    ("万把块", 10000),
    ("估计800来块", 800),
    # ranges: the midpoint
    ("两三千", 2500),
    ("七八百", 750),
    ("三五百", 400),
    ("一两千", 1500),
    ("一万五六", 15500),
    ("两千三四百", 2350),
    ("2000-3000", 2500),
    ("2000到3000", 2500),
    ("2到3千", 2500),
    ("2-3000", 2500),
    ("5-600", 550),
    ("1-1.5万", 12500),
    ("两千多到三千", 2500),
    ("3000-2000", None),
    # per month: named, implied, and other periods
    ("每个月800", 800),
    ("一个月八百", 800),
    ("1个月800", 800),
    ("两千一个月", 2000),
    ("800/月", 800),
    ("月收入1500", 1500),
    ("一年一万二", 1000),
    ("每年6000", 500),
    ("年收入3万", 2500),
    ("一年5000", 416.67),
    ("半年3000", 500),
    ("一个季度三千", 1000),
    ("每天100", None),
    ("一周五百", None),
    ("两个月一千", None),
    ("一个月800，一年差不多一万", None),
    ("打零工一个月八百", 800),
    ("一个人八百", 800),
    ("三轮车值两千", 2000),
    ("一次性给了五千", 5000),
    # nothing
    ("没有", 0),
    ("莫得", 0),
    ("没得", 0),
    ("无", 0),
    ("0", 0),
    ("零", 0),
    ("没有收入", 0),
    ("一分钱都没有", 0),
    ("木有😭", 0),
    ("都没得哦", 0),
    ("没有其他收入", 0),
    ("没有工资，但有养老金", None),
    ("我退休金两千，没得其他", 2000),
    ("两万存款，没有其他", 20000),
    ("别的也莫得，就低保五百", 500),
    ("没得工资两千", None),
    # not knowing
    ("不知道", UNKNOWN),
    ("不清楚", UNKNOWN),
    ("说不准", UNKNOWN),
    ("不晓得", UNKNOWN),
    ("晓不得", UNKNOWN),
    ("记不清了", UNKNOWN),
    ("这个搞不醒豁", UNKNOWN),
    ("不清楚，大概两千", 2000),
    ("具体说不准，差不多三千", 3000),
    ("不知道有没有一千", None),
    # no figure, or not one figure
    ("很多", None),
    ("一点点", None),
    ("你好", None),
    ("几百", None),
    ("好几千", None),
    ("没多少", None),
    ("不到两千", None),
    ("三千以上", None),
    ("最多一千", None),
    ("没有两千", None),
    ("我200他300", None),
    ("两个人一共3000", None),
    ("-500", None),
    ("负五百", None),
    ("13800138000", None),
    ("一亿亿", None),
    ("多少？", None),
    ("", None),
    ("   ", None),
    ("😊", None),
    ("1.12345678901234567", None),
    # letters typed for digits (o for 0, l for 1): re-asked, never read as another figure
    ("15oo", None),
    ("l500", None),
    ("1o00元", None),
    ("两千o", None),
    (HUGE, None),
]


@pytest.mark.parametrize(("typed", "expected"), AMOUNTS)
def test_parse_amount(typed: str, expected: float | Unknown | None) -> None:
    got = parse_amount(typed)
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        assert isinstance(got, float)
        assert got == pytest.approx(expected)
    else:
        assert got is expected


@given(st.integers(min_value=0, max_value=int(MAX_AMOUNT)))
def test_amount_of_arabic_digits_is_the_number(n: int) -> None:
    assert parse_amount(str(n)) == n


@given(st.integers(min_value=0, max_value=int(MAX_AMOUNT)))
def test_amount_of_a_chinese_numeral_is_the_number(n: int) -> None:
    assert parse_amount(cn2an.an2cn(n)) == n


@given(st.integers(min_value=1, max_value=int(MAX_AMOUNT) // 12))
def test_a_yearly_amount_is_a_twelfth(n: int) -> None:
    assert parse_amount(f"一年{n}元") == pytest.approx(round(n / 12, 2))


def test_amounts_past_the_maximum_are_not_read() -> None:
    assert parse_amount(str(int(MAX_AMOUNT) + 1)) is None


# --- counts --------------------------------------------------------------------------

COUNTS: list[tuple[str, int | Unknown | None]] = [
    ("4", 4),
    ("４", 4),
    ("两口人", 2),
    ("3个", 3),
    ("三人", 3),
    ("四个人", 4),
    ("五口", 5),
    ("十口人", 10),
    ("四口之家", 4),
    ("一家四口", 4),
    ("一家三口人哦", 3),
    ("我们两个", 2),
    ("老两口", 2),
    ("两口子", 2),
    ("就我一个", 1),
    ("一个人", 1),
    ("就我", 1),
    ("我自己", 1),
    ("独居", 1),
    ("我和老伴", 2),
    ("我跟我老伴", 2),
    ("我和老伴两个人", 2),
    ("我、老伴、儿子", 3),
    ("我，老婆，还有两个娃", 4),
    ("我带两个孙子", 3),
    ("我一个人带两个娃", 3),
    ("老汉儿和我", 2),
    ("我和孩子们", None),  # how many children?
    ("俩人", 2),
    ("仨", 3),
    ("我们俩", 2),
    ("咱们仨", 3),
    ("2p", None),
    ("一套", 1),
    ("两套房", 2),
    ("没有", 0),
    ("没有房子", 0),
    ("一个都没有", 0),
    ("一套都没得", 0),
    ("0", 0),
    ("不清楚", UNKNOWN),
    ("不晓得有几个", UNKNOWN),
    ("三四个", None),
    ("2.5", None),
    ("30", 30),
    ("31", None),
    ("一家人", None),
    ("好几个", None),
    ("不到五个", None),
    ("没有三个", None),
    ("我老伴80，我78", None),
    ("你好", None),
    ("", None),
    (HUGE, None),
]


@pytest.mark.parametrize(("typed", "expected"), COUNTS)
def test_parse_count(typed: str, expected: int | Unknown | None) -> None:
    got = parse_count(typed)
    if isinstance(expected, int):
        assert type(got) is int
        assert got == expected
    else:
        assert got is expected


@given(st.integers(min_value=0, max_value=MAX_COUNT))
def test_count_of_digits_and_of_chinese_numerals(n: int) -> None:
    assert parse_count(str(n)) == n
    assert parse_count(cn2an.an2cn(n) + "个") == n


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2个 70 68", (2, "70 68")),
        ("2个70 68", (2, "70 68")),
        ("2口人，68和66", (2, "68和66")),
        ("两个人 68 66", (2, "68 66")),
        ("就我一个，68岁", (1, "68岁")),
        ("68 66 两个人", (2, "68 66")),
        ("我们俩", (2, "")),
        ("我和老伴 68 66", (2, "68 66")),
        ("两口子 都七十多了", (2, "都七十多了")),
        ("一家三口", (3, "")),
        ("两口人，我和老伴", (2, "")),
        ("68 66", None),  # bare figures may be ages
        ("2", None),
        ("本人 68 老伴 66", None),
        ("我30 娃8个月", None),  # 8个月 is an age
        ("两口人 三个人", None),  # two counts that disagree
        ("好多人", None),
        ("", None),
    ],
)
def test_people_and_rest(typed: str, expected: tuple[int, str] | None) -> None:
    assert people_and_rest(typed) == expected


# --- ages ----------------------------------------------------------------------------

AGES: list[tuple[str, int | Unknown | None]] = [
    ("78", 78),
    ("七十八岁", 78),
    ("78了", 78),
    ("78岁了", 78),
    ("今年78", 78),
    ("我今年七十八了😊", 78),
    ("一百岁", 100),
    ("0", 0),
    ("8个月", 0),
    ("十一个月", 0),
    ("2.5岁", 2),
    ("3岁半", 3),
    ("5岁多", 5),
    # about an age
    ("大概70", 70),
    ("70左右", 70),
    ("差不多80", 80),
    ("快80了", 79),
    ("快八十了", 79),
    ("马上80", 79),
    ("将近八十", 79),
    ("快九十", 89),
    ("虚岁80", 79),
    ("周岁80", 80),
    ("80多", 80),
    ("八十多岁", 80),
    ("八十几", 80),
    ("八十出头", 80),
    ("十几岁", None),
    ("十多岁", None),
    ("七八十", None),
    ("六七十岁", None),
    ("不到60", None),
    ("60以上", None),
    # birth dates, reckoned on TODAY = 2025-08-01
    ("1958年的", 67),
    ("58年生的", 67),
    ("一九五八年", 67),
    ("五八年", 67),
    ("五六年的", 69),
    ("我是1958的", 67),
    ("1958年3月", 67),
    ("1958年9月", 66),
    ("1958年8月1日", 67),
    ("1958年8月2号", 66),
    ("1958-03-12", 67),
    ("1958.9.3", 66),
    ("19580312", 67),
    ("05年的", 20),
    ("25年", 0),
    ("2030年", None),
    ("1958年13月", None),
    ("1900年", None),
    # not knowing, and no age
    ("不晓得", UNKNOWN),
    ("记不得了", UNKNOWN),
    ("我老伴80，我78", None),
    ("121", None),
    ("你好", None),
    ("", None),
    (HUGE, None),
]


@pytest.mark.parametrize(("typed", "expected"), AGES)
def test_parse_age(typed: str, expected: int | Unknown | None) -> None:
    got = parse_age(typed, TODAY)
    if isinstance(expected, int):
        assert type(got) is int
        assert got == expected
    else:
        assert got is expected


@given(st.integers(min_value=0, max_value=MAX_AGE))
def test_age_of_digits_and_of_chinese_numerals(n: int) -> None:
    assert parse_age(str(n), TODAY) == n
    assert parse_age(cn2an.an2cn(n) + "岁", TODAY) == n


@given(st.dates(min_value=dt.date(1906, 1, 1), max_value=TODAY))
def test_age_from_a_full_birth_date_is_exact(born: dt.date) -> None:
    before_birthday = (TODAY.month, TODAY.day) < (born.month, born.day)
    expected = TODAY.year - born.year - before_birthday
    assert parse_age(f"{born.year}年{born.month}月{born.day}日", TODAY) == expected
    assert parse_age(born.isoformat(), TODAY) == expected


def test_age_defaults_to_the_system_date() -> None:
    assert parse_age(f"{dt.date.today().year - 70}年的") == 70


# --- yes / no ------------------------------------------------------------------------

YES_NO: list[tuple[str, bool | Unknown | None]] = [
    *((word, True) for word in ["是", "对", "有", "嗯", "要得", "可以", "好", "行", "得行"]),
    *((word, True) for word in ["是的", "对头", "有的", "有哦", "有嘛", "嗯嗯", "嗯呐", "好的"]),
    *((word, True) for word in ["y", "yes", "Yes!", "OK", "👍", "好的👍", "是是是", "对的对的"]),
    ("有，两个", True),
    ("有残疾证", True),
    ("家里也有", True),
    ("应该有吧", True),
    ("是的，我有", True),
    ("有，但是不多", True),
    ("领了", True),  # 有在领低保吗？ answered with its verb
    ("领着的", True),
    *((word, False) for word in ["不是", "没有", "莫得", "没得", "无", "不要", "否", "不"]),
    *((word, False) for word in ["没有啊", "没有的", "我也没有哦", "木有", "冇得", "n", "no"]),
    *((word, False) for word in ["NO.", "👎", "不用了", "算了吧", "要不得", "不得行", "不好"]),
    ("嗯，没有", False),
    ("没有，就我一个", False),
    ("没得工作", False),
    ("不是低保户", False),
    ("没有没有", False),
    ("不晓得", UNKNOWN),
    ("不知道", UNKNOWN),
    ("说不准", UNKNOWN),
    ("不好说", UNKNOWN),
    ("不知道有没有", UNKNOWN),
    # both, neither, a question back, digits
    ("有的，没有", None),
    ("有，但不清楚多少", None),
    ("是不是", None),
    ("有没有", None),
    ("要得不", None),
    ("好不好", None),
    ("行不行", None),
    ("有吗", None),
    ("有？", None),
    ("有不少", None),
    ("哦", None),
    ("你好", None),
    ("1", None),
    ("2", None),
    ("1958", None),
    ("", None),
    (HUGE, None),
]


@pytest.mark.parametrize(("typed", "expected"), YES_NO)
def test_parse_yes_no(typed: str, expected: bool | Unknown | None) -> None:
    assert parse_yes_no(typed) is expected


# --- numbered choices ----------------------------------------------------------------

AREA = ["城镇", "农村（有承包地）"]
HAVE = ["有", "没有", "不知道"]
SUPPORT = ["没有赡养人", "有，但他们没有能力", "有，他们有能力", "不清楚"]


@pytest.mark.parametrize(
    ("typed", "options", "expected"),
    [
        ("1", AREA, 0),
        ("２", AREA, 1),
        ("二", AREA, 1),
        ("第二个", AREA, 1),
        ("选2", AREA, 1),
        ("2.", AREA, 1),
        ("农村", AREA, 1),
        ("农村的", AREA, 1),
        ("是农村", AREA, 1),
        ("城镇户口", AREA, 0),
        ("农村（有承包地）", AREA, 1),
        ("3", AREA, None),
        ("0", AREA, None),
        ("第三个", AREA, None),
        ("你好", AREA, None),
        ("", AREA, None),
        ("有", HAVE, 0),
        ("有的", HAVE, 0),
        ("没有啊", HAVE, 1),
        ("不知道", HAVE, 2),
        ("3", HAVE, 2),
        ("没有能力", SUPPORT, 1),
        ("他们有能力", SUPPORT, 2),
        ("有能力", SUPPORT, None),  # in two options
        ("没有赡养人", SUPPORT, 0),
        ("1", [], None),
    ],
)
def test_parse_choice(typed: str, options: list[str], expected: int | None) -> None:
    assert parse_choice(typed, options) == expected


def test_a_number_is_a_position_even_when_options_hold_digits() -> None:
    assert parse_choice("2", ["1个", "2个", "3个及以上"]) == 1


# --- mobile numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("(+86)138-0013-8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("一三八零零一三八零零零", "13800138000"),
        ("我的电话是13800138000，谢谢", "13800138000"),
        ("电话：19912345678。", "19912345678"),
        ("13800138000或13800138000", "13800138000"),
        ("1380013800", None),
        ("138001380001", None),
        ("12800138000", None),
        ("023-12345678", None),
        ("13800138000 13900139000", None),
        ("你好", None),
        ("", None),
    ],
)
def test_parse_mobile(typed: str, expected: str | None) -> None:
    assert parse_mobile(typed) == expected


MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(MOBILES, st.sampled_from(["{}", "+86 {}", "0086{}", "{} ", "电话{}", "86-{}"]))
def test_every_valid_mobile_is_accepted(number: str, layout: str) -> None:
    assert parse_mobile(layout.format(number)) == number
    spaced = f"{number[:3]} {number[3:7]} {number[7:]}"
    assert parse_mobile(spaced) == number


@given(st.from_regex(r"[0-9]{10}|[0-9]{12}", fullmatch=True))
def test_ten_and_twelve_digits_are_rejected(digits: str) -> None:
    assert parse_mobile(digits) is None


# --- places (the real knowledge/places.yaml) -----------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("奉节县", "奉节县"),
        ("奉节", "奉节县"),
        ("我是奉节的", "奉节县"),
        ("重庆市渝中区", "渝中区"),
        ("渝中区解放碑", "渝中区"),
        ("奉杰县", "奉节县"),  # a typo
        ("石柱", "石柱土家族自治县"),
        ("沙坪坝。", "沙坪坝区"),
        ("不知道", None),
        ("你好", None),
        ("是的", None),
        ("1", None),
        ("", None),
        (HUGE, None),
    ],
)
def test_parse_district(typed: str, expected: str | None) -> None:
    district = parse_district(typed)
    assert (district.name if district is not None else None) == expected


def test_every_district_is_found_by_its_name_and_short_name() -> None:
    for district in districts():
        assert parse_district(district.name) == district
        assert parse_district(f"我住在{district.name}") == district


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("解放碑街道", "解放碑街道"),
        ("解放碑", "解放碑街道"),
        ("我在解放碑这边", "解放碑街道"),
        ("七星岗街道办事处", "七星岗街道"),
        ("你好", None),
        ("", None),
    ],
)
def test_parse_township(typed: str, expected: str | None) -> None:
    township = parse_township(resolve_district("渝中区"), typed)
    assert township is not UNKNOWN
    assert (township.name if township is not None else None) == expected


@pytest.mark.parametrize("typed", ["不知道", "不晓得是哪个街道", "记不清了"])
def test_a_township_the_resident_does_not_know_is_unknown(typed: str) -> None:
    assert parse_township(resolve_district("渝中区"), typed) is UNKNOWN


def test_every_township_is_found_by_its_full_name() -> None:
    listed: list[District] = [d for d in districts() if d.townships]
    assert listed
    for district in listed:
        for township in district.townships:
            assert parse_township(district, township.name) == township


@pytest.mark.parametrize(
    ("district", "typed", "expected"),
    [
        ("沙坪坝区", "沙坪坝街道", "沙坪坝街道"),
        ("长寿区", "长寿湖镇", "长寿湖镇"),  # not 洪湖镇
        ("云阳县", "云阳镇", "云阳镇"),
        ("奉节县", "不清楚", UNKNOWN),
    ],
)
def test_townships_named_like_their_district(
    district: str, typed: str, expected: str | Unknown
) -> None:
    township = parse_township(resolve_district(district), typed)
    assert (township if township is UNKNOWN or township is None else township.name) == expected


# --- never raises, and fast ----------------------------------------------------------

PARSERS: list[Callable[[str], object]] = [
    normalize,
    parse_amount,
    parse_count,
    people_and_rest,
    lambda text: parse_age(text, TODAY),
    parse_yes_no,
    parse_mobile,
    lambda text: parse_choice(text, AREA),
    parse_district,
    lambda text: parse_township(resolve_district("渝中区"), text),
]


@settings(max_examples=300)
@given(
    st.text(max_size=300)
    | st.text(alphabet="0123456789一二两三千万点.k年月,-到几多没有不是", max_size=40)
)
def test_no_parser_raises_on_any_text(text: str) -> None:
    for parse in PARSERS:
        parse(text)


@given(st.text(max_size=40), st.lists(st.text(max_size=20), max_size=5))
def test_choice_never_raises_and_stays_in_range(text: str, options: list[str]) -> None:
    chosen = parse_choice(text, options)
    assert chosen is None or 0 <= chosen < len(options)


def test_replies_over_the_limit_are_not_read() -> None:
    assert parse_amount("我" * MAX_CHARS + "两千") is None
    assert parse_amount("我" * (MAX_CHARS - 10) + "两千") == 2000


def test_each_parser_takes_well_under_a_millisecond() -> None:
    replies = [typed for typed, _ in AMOUNTS + COUNTS + AGES + YES_NO]
    for parse in PARSERS:
        for reply in replies:  # warm caches (word lists, compiled patterns)
            parse(reply)
        start = time.perf_counter()
        for reply in replies:
            parse(reply)
        mean = (time.perf_counter() - start) / len(replies)
        assert mean < 0.0005, f"{parse}: {mean * 1000:.3f} ms per reply"
