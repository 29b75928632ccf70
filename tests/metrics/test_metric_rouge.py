"""Golden values for ROUGE (hand-counted unigrams and LCS), agreement with ``rouge_score``, and stop-string
cutting."""

import random

import pytest

from unlearn_core.metrics.rouge import cut_at_stop_strings, rouge_scores, rouge_tokens


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-6)


def test_rouge_with_stemmer_by_hand() -> None:
    # tokens are lower-cased; words longer than 3 letters are Porter-stemmed ("running" and "runs" -> "run")
    # target:     home a cat run              (4 tokens)
    # prediction: the cat was run home        (5 tokens)
    # unigram overlap {cat, run, home} = 3 -> recall 3/4, precision 3/5, F1 = 2*0.75*0.6/1.35 = 2/3
    # LCS "cat run" = 2                    -> recall 2/4, precision 2/5, F1 = 2*0.5*0.4/0.9 = 4/9
    scores = rouge_scores(prediction="The cat was running home", ground_truth="home a cat runs")
    assert scores == {
        "rouge1_recall": approx(0.75),
        "rouge1_f1": approx(2 / 3),
        "rougeL_recall": approx(0.5),
        "rougeL_f1": approx(4 / 9),
    }


def test_tokens_by_hand() -> None:
    # lower-cased; "'", "," and "." separate; only words of four or more characters are stemmed ("spy" stays,
    # "spies" -> "spi"; "was" stays, "runs" -> "run"); digits are kept
    tokens = ["the", "spy", "was", "it", "s", "2", "001", "spi", "run"]
    assert rouge_tokens("The spy WAS it's 2,001 spies; runs.") == tokens
    assert rouge_tokens(" -- ") == []


def test_rouge_argument_order_matters() -> None:
    # recall is relative to the ground truth: swapping the texts swaps recall and precision (3/5 instead of 3/4)
    scores = rouge_scores(prediction="home a cat runs", ground_truth="The cat was running home")
    assert scores["rouge1_recall"] == approx(0.6)
    assert scores["rougeL_recall"] == approx(0.4)


def test_cut_at_earliest_stop_string() -> None:
    text = "Paris\n\nQuestion: next"
    # "\n\n" at 5, "\nQuestion" at 6, "Question:" at 7: the earliest wins whatever the list order
    assert cut_at_stop_strings(text, ["Question:", "\nQuestion", "\n\n"]) == "Paris"
    assert cut_at_stop_strings("Paris Question: x\n\n", ["\n\n", "Question:"]) == "Paris "


def test_cut_without_match_or_stop_strings() -> None:
    assert cut_at_stop_strings("Paris\n", ["\n\n"]) == "Paris\n"
    assert cut_at_stop_strings("Paris", []) == "Paris"
    assert cut_at_stop_strings("Paris", [""]) == "Paris"
    assert cut_at_stop_strings("\n\nParis", ["\n\n"]) == ""


def test_scores_equal_rouge_score_on_chosen_texts() -> None:
    from rouge_score import rouge_scorer

    reference = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    pairs = [
        ("The cat was running home", "home a cat runs"),
        ("Generations generated generously, relational nationalisation", "generate the relations of nations"),
        ("", "an empty prediction"),
        ("Numbers 1990 and 2,001 stay; Ünïcode drops", "numbers 1990 2 001 unicode"),
    ]
    for _ in range(2):  # the second time every stem comes from memory
        for prediction, truth in pairs:
            theirs = reference.score(target=truth, prediction=prediction)
            ours = rouge_scores(prediction=prediction, ground_truth=truth)
            assert ours["rouge1_recall"] == theirs["rouge1"].recall
            assert ours["rouge1_f1"] == theirs["rouge1"].fmeasure
            assert ours["rougeL_recall"] == theirs["rougeL"].recall
            assert ours["rougeL_f1"] == theirs["rougeL"].fmeasure


WORD_POOL = [
    "The", "cat", "cats", "running", "runs", "ran", "home", "homes", "relational", "nationalisation", "generously",
    "happy", "happily", "1990", "2,001", "Ünïcode", "naïve", "e-mail", "it's", "U.S.", "a", "an", "of", "is",
    "studies", "studying", "was", "spy", "spies", "has", "dies", "controlled", "hopefully", "apology", "sky",
    "skies", "dying", "--", "...", "\n", "",
]  # fmt: skip


def test_scores_equal_rouge_score_on_random_texts() -> None:
    from rouge_score import rouge_scorer

    reference = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    rng = random.Random(0)
    for _ in range(500):
        truth = " ".join(rng.choices(WORD_POOL, k=rng.randint(0, 12)))
        prediction = " ".join(rng.choices(WORD_POOL, k=rng.randint(0, 12)))
        theirs = reference.score(target=truth, prediction=prediction)
        assert rouge_scores(prediction=prediction, ground_truth=truth) == {
            "rouge1_recall": theirs["rouge1"].recall,
            "rouge1_f1": theirs["rouge1"].fmeasure,
            "rougeL_recall": theirs["rougeL"].recall,
            "rougeL_f1": theirs["rougeL"].fmeasure,
        }, (prediction, truth)
