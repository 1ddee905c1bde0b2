"""Chongqing's districts and townships (knowledge/places.yaml) and the resolvers."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge import places
from knowledge.places import (
    District,
    PlacesError,
    Township,
    UnknownPlace,
    districts,
    find_district,
    find_place,
    find_township,
    resolve_district,
    resolve_township,
    suggest_districts,
    township_short,
)
from knowledge.text import compact

# 市民政局, cq.gov.cn 2026-01-25: 25个区、8个县、4个自治县 (after the 2025-11-06 merger)
OFFICIAL_QU = [
    *("两江新区", "万州区", "黔江区", "涪陵区", "渝中区", "大渡口区", "沙坪坝区", "九龙坡区"),
    *("南岸区", "北碚区", "巴南区", "长寿区", "江津区", "合川区", "永川区", "南川区", "綦江区"),
    *("大足区", "璧山区", "铜梁区", "潼南区", "荣昌区", "开州区", "梁平区", "武隆区"),
]
OFFICIAL_XIAN = ["城口县", "丰都县", "垫江县", "忠县", "云阳县", "奉节县", "巫山县", "巫溪县"]
OFFICIAL_ZIZHIXIAN = [
    "石柱土家族自治县",
    "秀山土家族苗族自治县",
    "酉阳土家族苗族自治县",
    "彭水苗族土家族自治县",
]
ZONES = ("重庆高新区", "万盛经开区")


def by_name(name: str) -> District:
    return next(d for d in districts() if d.name == name)


# ---------------------------------------------------------------- the district list


def test_every_district_is_there_with_its_kind() -> None:
    kinds = {d.name: d.kind for d in districts()}
    assert Counter(kinds.values()) == {"区": 25, "县": 8, "自治县": 4, "管理区": 2}
    assert {n for n, k in kinds.items() if k == "区"} == set(OFFICIAL_QU)
    assert {n for n, k in kinds.items() if k == "县"} == set(OFFICIAL_XIAN)
    assert {n for n, k in kinds.items() if k == "自治县"} == set(OFFICIAL_ZIZHIXIAN)
    assert {n for n, k in kinds.items() if k == "管理区"} == set(ZONES)


def test_merged_districts_are_gone_but_their_names_still_route() -> None:
    names = {d.name for d in districts()}
    assert "江北区" not in names
    assert "渝北区" not in names
    assert resolve_district("江北区").name == "两江新区"
    assert resolve_district("渝北区").name == "两江新区"


def test_codes_are_gb2260_and_unique() -> None:
    codes = [d.code for d in districts() if d.code is not None]
    assert len(codes) == len(set(codes)) == 36  # 两江新区's new code is not yet sourced
    assert all(c.startswith("50") and len(c) == 6 for c in codes)
    assert by_name("渝中区").code == "500103"
    assert by_name("彭水苗族土家族自治县").code == "500243"


def test_districts_is_loaded_once() -> None:
    assert districts() is districts()


# ---------------------------------------------------------------- resolve_district


@pytest.mark.parametrize(
    ("text", "official"),
    [
        ("奉节", "奉节县"),
        ("石柱", "石柱土家族自治县"),
        ("石柱县", "石柱土家族自治县"),
        ("秀山", "秀山土家族苗族自治县"),
        ("酉阳", "酉阳土家族苗族自治县"),
        ("彭水县", "彭水苗族土家族自治县"),
        ("两江", "两江新区"),
        ("高新区", "重庆高新区"),
        ("西部科学城重庆高新区", "重庆高新区"),
        ("万盛", "万盛经开区"),
        ("万盛区", "万盛经开区"),
        ("梁平县", "梁平区"),
        ("开县", "开州区"),
        ("武隆县", "武隆区"),
        ("巴县", "巴南区"),
        ("沙区", "沙坪坝区"),
        ("重庆市渝中区", "渝中区"),
        ("重庆 奉节县", "奉节县"),
        ("  南岸区。", "南岸区"),
    ],
)
def test_aliases_and_short_forms(text: str, official: str) -> None:
    assert resolve_district(text).name == official


@pytest.mark.parametrize(
    ("text", "official"),
    [
        ("江北", "两江新区"),  # former 江北区, not 江津区
        ("江津", "江津区"),
        ("南川", "南川区"),
        ("南岸", "南岸区"),
        ("北碚", "北碚区"),
        ("巴南", "巴南区"),
        ("巫山", "巫山县"),
        ("巫溪", "巫溪县"),
    ],
)
def test_near_names_do_not_swap(text: str, official: str) -> None:
    assert resolve_district(text).name == official


@pytest.mark.parametrize(
    ("typo", "official"),
    [
        ("沙坪区", "沙坪坝区"),
        ("九龙区", "九龙坡区"),
        ("大度口区", "大渡口区"),
        ("奉杰县", "奉节县"),
        ("两江新", "两江新区"),
        ("彭水自治县", "彭水苗族土家族自治县"),
        # homophones from pinyin input, with or without the kind
        ("奉结", "奉节县"),
        ("凤节", "奉节县"),
        ("万洲", "万州区"),  # not 万盛: the homophone is the likelier typo
        ("万洲区", "万州区"),
        ("南穿区", "南川区"),  # 穿 sounds like 川; 岸 does not
        ("旗江", "綦江区"),
        ("壁山县", "璧山区"),
        # one wrong character in a two-character stem, the kind typed, one district close
        ("培陵区", "涪陵区"),
        ("巴男区", "巴南区"),
    ],
)
def test_clear_typos_resolve(typo: str, official: str) -> None:
    assert resolve_district(typo).name == official


@pytest.mark.parametrize(
    ("text", "close"),
    [
        ("巫县", {"巫山县", "巫溪县"}),  # which one? ask
        ("南山区", {"南川区", "南岸区"}),  # differs from both by one character
        ("巫水县", {"巫山县", "巫溪县"}),
    ],
)
def test_ambiguous_typos_raise_with_both_candidates(text: str, close: set[str]) -> None:
    with pytest.raises(UnknownPlace) as info:
        resolve_district(text)
    assert close <= set(info.value.suggestions)
    assert len(info.value.suggestions) <= 3


@pytest.mark.parametrize(
    ("text", "close"),
    [
        ("城里", "城口县"),  # "in town": a word one character off 城口, no kind typed
        ("北边", "北碚区"),
        ("开始", "开州区"),
        ("七星", None),  # a numeral is never a slip
    ],
)
def test_an_everyday_answer_is_not_a_district_typo(text: str, close: str | None) -> None:
    with pytest.raises(UnknownPlace) as info:
        resolve_district(text)
    if close is not None:
        assert close in info.value.suggestions


@pytest.mark.parametrize(
    ("typed", "name", "how"),
    [
        ("奉结", "奉节", places.HOMOPHONE),
        ("解放杯", "解放碑", places.HOMOPHONE),
        ("南平", "南坪", places.HOMOPHONE),  # n/l, ing/in folded as Chongqing speech does
        ("解放牌", "解放碑", places.WRONG),
        ("新华", "新民", places.WRONG),
        ("奉节", "奉节", None),
        ("火星", "七星岗", None),  # another length
        ("东溪", "万东", None),  # two characters differ
        ("三星", "七星", None),  # a typed numeral
    ],
)
def test_slip(typed: str, name: str, how: str | None) -> None:
    assert places.slip(typed, name) == how


def test_unknown_district_names_the_closest() -> None:
    with pytest.raises(UnknownPlace) as info:
        resolve_district("奉天")
    exc = info.value
    assert isinstance(exc, LookupError)
    assert exc.text == "奉天"
    assert exc.suggestions[0] == "奉节县"
    assert (
        str(exc)
        == "不认识的区县：奉天（您是不是说：奉节县）/ unknown district '奉天' (close: 奉节县)"
    )


def test_unknown_district_with_several_suggestions_is_one_line() -> None:
    with pytest.raises(UnknownPlace) as info:
        resolve_district("巫县\n")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("不认识的区县：巫县（您是不是说：")
    assert "、".join(info.value.suggestions) in message
    assert ", ".join(info.value.suggestions) in message
    assert len(info.value.suggestions) == 3


def test_unknown_without_anything_close() -> None:
    with pytest.raises(UnknownPlace) as info:
        resolve_district("护照")
    assert info.value.suggestions == []
    assert str(info.value) == "不认识的区县：护照 / unknown district '护照'"


def test_suggestions_are_official_names_best_first() -> None:
    assert suggest_districts("奉节")[0] == "奉节县"
    assert suggest_districts("石住", limit=1) == ["石柱土家族自治县"]
    official = {d.name for d in districts()}
    assert set(suggest_districts("南山区", limit=5)) <= official
    assert len(suggest_districts("南山区", limit=5)) == 5
    assert suggest_districts("") == []


# ---------------------------------------------------------------- find_district


@pytest.mark.parametrize(
    ("message", "official"),
    [
        ("我是奉节的", "奉节县"),
        ("住在石柱县城", "石柱土家族自治县"),
        ("渝中区解放碑", "渝中区"),
        ("我家在秀山农村，想问低保", "秀山土家族苗族自治县"),
        ("我住涪陵江北街道", "涪陵区"),  # 江北街道 is 涪陵's, not the former 江北区
        ("开州区巫山镇", "开州区"),  # 巫山镇 is 开州's, not 巫山县
        ("渝北区统景镇", "北碚区"),  # 统景镇 moved to 北碚区 in 2025
        ("渝北区回兴街道", "两江新区"),
        ("在观音桥那边住", "两江新区"),  # a township by its three-character short name
        ("我住在解放碑附近", "渝中区"),
        ("住江北", "两江新区"),
        ("南川区东城街道", "南川区"),
    ],
)
def test_find_district_in_a_message(message: str, official: str) -> None:
    found = find_district(message)
    assert found is not None
    assert found.name == official


@pytest.mark.parametrize(
    "message",
    [
        "我从奉节搬到万州",  # two districts
        "我住东城街道",  # 东城街道 is in 南川区 and in 铜梁区
        "我没文化",  # 文化镇 (梁平) is not matched by its two-character short name
        "不知道",
        "",
    ],
)
def test_find_district_is_none_when_unsure(message: str) -> None:
    assert find_district(message) is None


# ---------------------------------------------------------------- townships


@pytest.mark.parametrize(
    ("district", "text", "township"),
    [
        ("渝中区", "解放碑街道", "解放碑街道"),
        ("渝中区", "解放碑", "解放碑街道"),
        ("渝中区", "渝中区解放碑", "解放碑街道"),
        ("渝中区", "解放杯", "解放碑街道"),  # one character off
        ("渝中区", "七星岗街道办事处", "七星岗街道"),
        ("渝中区", "我住在七星岗", "七星岗街道"),
        ("南岸区", "南坪街道办", "南坪街道"),
        ("南岸区", "南坪镇政府", "南坪镇"),
        ("奉节县", "夔州", "夔州街道"),
        ("奉节县", "太和乡", "太和土家族乡"),
        ("大渡口区", "跳磴", "跳磴镇"),
        ("沙坪坝区", "沙坪坝街道", "沙坪坝街道"),  # starts with the alias 沙坪坝
        ("万盛经开区", "万盛街道", "万盛街道"),
        ("涪陵区", "江北", "江北街道"),
        ("北碚区", "统景镇", "统景镇"),
        ("两江新区", "水土", "水土街道"),
        ("万盛经开区", "黑山镇", "黑山镇"),
        ("武隆区", "石桥", "石桥苗族土家族乡"),
        # typos residents make: a homophone, or one wrong character in a longer name
        ("渝中区", "解放牌", "解放碑街道"),
        ("渝中区", "解放碑镇", "解放碑街道"),  # the wrong kind
        ("渝中区", "七星港", "七星岗街道"),
        ("渝中区", "期星岗街道", "七星岗街道"),
        ("奉节县", "新明镇", "新民镇"),  # 明 sounds like 民 (ming, min)
        ("万州区", "陈家坡", "陈家坝街道"),
    ],
)
def test_townships_resolve_within_their_district(district: str, text: str, township: str) -> None:
    found = resolve_township(district, text)
    assert found is not None
    assert found.name == township
    assert found.district == district


def test_resolve_township_takes_a_district_object_or_alias() -> None:
    assert resolve_township(by_name("奉节县"), "永安") == Township("永安街道", "奉节县", "街道")
    assert resolve_township("奉节", "永安") == Township("永安街道", "奉节县", "街道")


@pytest.mark.parametrize(
    ("district", "text"),
    [
        ("渝中区", "不知道"),
        ("渝中区", "观音桥"),  # a township of another district
        ("南岸区", "南坪"),  # 南坪街道 or 南坪镇?
        ("奉节县", ""),
        ("重庆高新区", "西永"),  # no sourced township list: route to the zone
        # a township that does not exist is not the real one it looks like
        ("渝中区", "火星街道"),  # not 七星岗街道
        ("奉节县", "新华镇"),  # not 新民镇
        ("两江新区", "人民街道"),  # not 人和街道
        ("綦江区", "万东镇"),  # not 东溪镇
        ("万州区", "陈家桥"),  # 沙坪坝区's 陈家桥街道, not 陈家坝街道
        ("渝中区", "解放"),  # a name cut short: 解放碑, or a 解放 elsewhere?
    ],
)
def test_unknown_township_routes_to_the_district(district: str, text: str) -> None:
    assert resolve_township(district, text) is None


def test_resolve_township_with_an_unknown_district_raises() -> None:
    with pytest.raises(UnknownPlace):
        resolve_township("奉天", "永安")


@pytest.mark.parametrize(
    ("message", "township", "district"),
    [
        ("我住在解放碑", "解放碑街道", "渝中区"),
        ("七星岗街道", "七星岗街道", "渝中区"),
        ("南川区东城街道", "东城街道", "南川区"),
        ("铜梁东城街道", "东城街道", "铜梁区"),
        ("渝北区统景镇", "统景镇", "北碚区"),
    ],
)
def test_find_township(message: str, township: str, district: str) -> None:
    found = find_township(message)
    assert found is not None
    assert (found.name, found.district) == (township, district)


@pytest.mark.parametrize(
    "message",
    [
        "我住东城街道",  # two districts have one
        "兴隆镇",  # four districts have one
        "我住在解放碑和观音桥之间",  # two townships
        "我是奉节的",  # a district, no township
        "我没文化",
    ],
)
def test_find_township_is_none_when_ambiguous(message: str) -> None:
    assert find_township(message) is None


# ---------------------------------------------------------------- find_place


@pytest.mark.parametrize(
    ("message", "district", "township"),
    [
        ("我家老人摔倒了起不来 在渝中区解放碑", "渝中区", "解放碑街道"),
        ("救命 老人在观音桥晕倒了", "两江新区", "观音桥街道"),
        ("我在奉节 屋头没得米了", "奉节县", None),
        ("奉节县永安街道 我爸心脏病发了", "奉节县", "永安街道"),
        ("长寿区 老人摔倒了", "长寿区", None),  # 长寿 with its kind
        ("我在长寿湖镇 房子塌了", "长寿区", "长寿湖镇"),
        ("涪陵江北街道 着火了", "涪陵区", "江北街道"),
        ("南川区东城街道", "南川区", "东城街道"),
        ("渝中区 我住东城街道", "渝中区", None),  # 东城街道 is not 渝中区's
        ("我在渝中区 在解放碑和七星岗之间", "渝中区", None),  # two townships
    ],
)
def test_find_place_in_an_emergency_message(
    message: str, district: str, township: str | None
) -> None:
    place = find_place(message)
    assert place is not None
    assert place.district.name == district
    assert (place.township.name if place.township else None) == township


@pytest.mark.parametrize(
    "message",
    [
        "我家老人摔倒了起不来",
        "祝老人长寿 他摔倒了",  # 长寿 is a wish here, not 长寿区
        "我刚离开县城 车翻了",  # 离开县城 holds 开县, the former name of 开州区
        "在河的南岸 有人落水了",
        "两江交汇的地方有人跳河",
        "被石柱子砸了",
        "我从奉节搬到万州 没得钱了",  # two districts
        "我住东城街道",  # in 南川区 and in 铜梁区
        "我没文化 屋头没得米了",  # 文化镇 by its two-character short name: not counted
        "",
    ],
)
def test_find_place_is_none_for_everyday_words_and_doubt(message: str) -> None:
    assert find_place(message) is None


def test_everyday_words_still_resolve_as_answers() -> None:
    """Asked for the district, "长寿" is an answer: only free text needs the kind."""
    assert resolve_district("长寿").name == "长寿区"
    found = find_district("我是长寿的")
    assert found is not None
    assert found.name == "长寿区"


def test_everyday_words_must_be_place_names() -> None:
    with pytest.raises(PlacesError, match="everyday_words"):
        places._Index(districts(), places._parsed()[1], ["长寿", "吃饭"])


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("解放碑街道", "解放碑"),
        ("跳磴镇", "跳磴"),
        ("地宝土家族乡", "地宝"),
        ("石桥苗族土家族乡", "石桥"),
        ("浩口苗族仡佬族乡", "浩口"),
        ("武陵山乡", "武陵山"),
    ],
)
def test_township_short(name: str, short: str) -> None:
    assert township_short(name) == short


# ---------------------------------------------------------------- the data file


def test_every_township_belongs_to_its_district_and_is_unique_there() -> None:
    for district in districts():
        names = [t.name for t in district.townships]
        assert len(names) == len(set(names)), district.name
        for township in district.townships:
            assert township.district == district.name
            assert township.kind in ("街道", "镇", "乡")
            assert township.name.endswith(township.kind)


def test_every_township_list_has_a_source() -> None:
    for district in districts():
        if district.townships:
            assert district.source, district.name
    assert by_name("重庆高新区").townships == ()
    assert by_name("重庆高新区").source is None


def test_the_2025_merger_matches_the_published_counts() -> None:
    """两江新区 31街道11镇, 北碚区 6街道11镇 (人民日报客户端 2025-11-07)."""
    for name, expected in (("两江新区", {"街道": 31, "镇": 11}), ("北碚区", {"街道": 6, "镇": 11})):
        assert Counter(t.kind for t in by_name(name).townships) == expected


def test_wansheng_and_qijiang_do_not_overlap() -> None:
    """万盛经开区 辖8镇2街; the rest of 500110 stays with 綦江区."""
    wansheng = {t.name for t in by_name("万盛经开区").townships}
    qijiang = {t.name for t in by_name("綦江区").townships}
    assert Counter(t.kind for t in by_name("万盛经开区").townships) == {"街道": 2, "镇": 8}
    assert not wansheng & qijiang
    assert len(qijiang) == 21


def test_the_seed_examples_have_townships() -> None:
    for name in ("渝中区", "南岸区", "奉节县", "大渡口区"):
        assert by_name(name).townships, name


def test_aliases_point_to_one_district_only() -> None:
    owner: dict[str, str] = {}
    for district in districts():
        for key in (district.name, *district.aliases):
            assert owner.setdefault(compact(key), district.name) == district.name, key


def test_long_township_short_names_do_not_shadow_other_districts() -> None:
    """A township's short name of 3+ characters counts as a mention anywhere, so it must
    not be another district's name or alias (两字 shorts such as 江北, 巫山 are not used)."""
    owner = {compact(k): d.name for d in districts() for k in (d.name, *d.aliases)}
    for district in districts():
        for township in district.townships:
            short = compact(township_short(township.name))
            if len(short) >= 3 and short in owner:
                assert owner[short] == district.name, township


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": "测试区",
        "kind": "区",
        "code": "500199",
        "aliases": ["测试"],
        "former_names": [],
        "source": "s",
        "townships": {"街道": ["甲街道"], "镇": ["乙镇"]},
    }
    entry.update(changes)
    return entry


def test_a_well_formed_entry_parses() -> None:
    district, former = places.parse_district(_entry(former_names=["测试县"]), {"s": "出处"})
    assert district.aliases == ("测试", "测试县")
    assert former == ("测试县",)
    assert district.source == "出处"
    assert district.townships == (
        Township("甲街道", "测试区", "街道"),
        Township("乙镇", "测试区", "镇"),
    )


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"kind": "市"}, "kind"),
        ({"code": "510101"}, "code"),
        ({"source": "nowhere"}, "source"),
        ({"source": None}, "source"),
        ({"townships": {"街道": ["甲街道", "甲街道"]}}, "重复"),
        ({"townships": {"镇": ["甲街道"]}}, "不是镇"),
        ({"townships": {"村": ["甲村"]}}, "类别"),
        ({"aliases": "测试"}, "aliases"),
    ],
)
def test_malformed_entries_are_rejected_with_the_field(
    changes: dict[str, object], fragment: str
) -> None:
    with pytest.raises(PlacesError, match=fragment):
        places.parse_district(_entry(**changes), {"s": "出处"})


# ---------------------------------------------------------------- properties

ALL_NAMES = [d.name for d in districts()]
ALL_KEYS = [(key, d.name) for d in districts() for key in (d.name, *d.aliases)]
ALL_TOWNSHIPS = [t for d in districts() for t in d.townships]


def test_every_official_name_and_alias_resolves_to_its_district() -> None:
    for key, name in ALL_KEYS:
        assert resolve_district(key).name == name, key
        found = find_district(f"我住在{key}那边")
        assert found is not None, key
        assert found.name == name, key


def test_every_township_resolves_within_its_district() -> None:
    for township in ALL_TOWNSHIPS:
        district = township.district
        assert resolve_township(district, township.name) == township
        assert resolve_township(district, f"重庆市{district}{township.name}") == township


def test_every_unshared_township_is_found_anywhere() -> None:
    counts = Counter(t.name for t in ALL_TOWNSHIPS)
    for township in ALL_TOWNSHIPS:
        expected = township if counts[township.name] == 1 else None
        assert find_township(f"我住在{township.name}") == expected, township


def _resolve(text: str) -> District | UnknownPlace:
    try:
        return resolve_district(text)
    except UnknownPlace as exc:
        return exc


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_random_text_never_breaks_the_resolvers(text: str) -> None:
    outcome = _resolve(text)
    if isinstance(outcome, UnknownPlace):
        assert "\n" not in str(outcome)
        assert set(outcome.suggestions) <= set(ALL_NAMES)
    else:
        assert outcome.name in ALL_NAMES
    found = find_district(text)
    assert found is None or found.name in ALL_NAMES
    place = find_place(text)
    if place is not None:
        assert place.district.name in ALL_NAMES
        assert place.township is None or place.township in place.district.townships
    township = find_township(text)
    assert township is None or township in ALL_TOWNSHIPS
    assert resolve_township("渝中区", text) in (None, *by_name("渝中区").townships)
    assert len(suggest_districts(text)) <= 3


@settings(max_examples=200)
@given(st.text(alphabet="重庆市区县镇乡街道江北南岸川渝中奉节石柱两新万盛高", max_size=12))
def test_place_like_text_gives_a_district_or_unknown(text: str) -> None:
    outcome = _resolve(text)
    assert isinstance(outcome, UnknownPlace) or outcome.name in ALL_NAMES
    found = find_district(text)
    if found is not None:
        assert _resolve(text) == found
