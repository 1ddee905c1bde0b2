"""A `Reply` as templates make it and as stores keep it (bot/messages.py, bot/render.py)."""

from __future__ import annotations

import pytest

from bot.messages import Reply
from bot.render import render_reply
from dialogues.choices import shown


@pytest.mark.parametrize("channel", ["sms", "telegram", "web", "terminal"])
@pytest.mark.parametrize("name", ["situation", "hardship"])
def test_the_multi_select_questions_say_so_and_name_their_none_option(
    channel: str, name: str
) -> None:
    values = {"options": shown(name), "retry": False, "who": {"index": 0, "age": None}}
    reply = render_reply(channel, f"screen_{name}", values)
    assert reply.multi
    assert reply.choices[reply.alone - 1] == "都没有"
    assert "1 " + reply.choices[0] in reply.text  # the text still lists them, numbered


def test_a_single_choice_question_is_not_a_multi_select() -> None:
    reply = render_reply("telegram", "menu", {"understood": True})
    assert reply.choices
    assert (reply.multi, reply.alone) == (False, 0)


def test_replies_round_trip_and_old_stored_ones_still_read() -> None:
    multi = Reply("有下面的情况吗？", ("残疾", "重病", "都没有"), multi=True, alone=3)
    single = Reply("城镇还是农村？", ("城镇", "农村"))
    assert Reply.from_dict(multi.to_dict()) == multi
    assert Reply.from_dict(single.to_dict()) == single
    assert single.to_dict() == {"text": "城镇还是农村？", "choices": ["城镇", "农村"]}
    assert Reply.from_dict({"text": "你好", "choices": ["好"]}) == Reply("你好", ("好",))
    assert Reply.from_dict({"text": "你好"}) == Reply("你好")
