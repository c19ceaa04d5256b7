//! Tests of the VADER port.

use crate::Vader;
use tandem_core::ai::SentimentAnalyzer;

#[test]
fn brief_examples() {
    let v = Vader::new();
    assert!(v.compound("I'm very angry") < -0.3);
    assert!(v.compound("this is useless") < -0.3);
    assert!(v.compound("thanks, this was great help!") > 0.3);
    assert!(v.compound("not bad at all") > 0.0);
    assert!(v.compound("I am NOT happy!!!") < 0.0);
    let plain = v.compound("The service is good");
    let loud = v.compound("The service is VERY GOOD!!!");
    assert!(plain > 0.0 && loud > plain, "{plain} {loud}");
}

/// Values computed by the reference Python implementation (vaderSentiment 3.3.2).
#[test]
fn matches_reference_values() {
    let v = Vader::new();
    for (text, expected) in [
        ("VADER is smart, handsome, and funny.", 0.8316),
        ("VADER is smart, handsome, and funny!", 0.8439),
        ("VADER is very smart, handsome, and funny.", 0.8545),
        ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
        ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
        (
            "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
            0.9469,
        ),
        ("VADER is not smart, handsome, nor funny.", -0.7424),
        ("The book was good.", 0.4404),
        ("At least it isn't a horrible book.", 0.431),
        ("The book was only kind of good.", 0.3832),
        (
            "The plot was good, but the characters are uncompelling and the dialog is not great.",
            -0.7042,
        ),
        ("Today SUX!", -0.5461),
        ("Today only kinda sux! But I'll get by, lol", 0.5249),
        ("Make sure you :) or :D today!", 0.8633),
        ("Not bad at all", 0.431),
        ("", 0.0),
    ] {
        let got = v.polarity_scores(text).compound;
        assert!(
            (got - expected).abs() < 1e-3,
            "{text:?}: {got} != {expected}"
        );
    }
}

#[test]
fn neutral_question_stays_neutral() {
    let v = Vader::new();
    assert_eq!(v.compound("where is my order?"), 0.0);
    let p = v.polarity_scores("where is my order?");
    assert_eq!((p.neg, p.pos), (0.0, 0.0));
    assert!((p.neu - 1.0).abs() < 1e-9);
}

#[test]
fn rules() {
    let v = Vader::new();
    // Negation flips, "but" shifts weight to the second clause.
    assert!(v.compound("good") > 0.0 && v.compound("not good") < 0.0);
    assert!(v.compound("the food was good but the service was terrible") < 0.0);
    // Boosters and dampeners.
    assert!(v.compound("extremely bad") < v.compound("bad"));
    assert!(v.compound("slightly bad") > v.compound("bad"));
    // Emphasis.
    assert!(v.compound("this is bad!!") < v.compound("this is bad"));
    assert!(v.compound("this is BAD") < v.compound("this is bad"));
    // Emoji are described, then scored.
    assert!(v.compound("thanks 😊") > v.compound("thanks"));
    // Scores stay in range.
    let extreme = "GREAT AMAZING WONDERFUL LOVE ".repeat(20) + "!!!!!!!!";
    assert!(v.compound(&extreme) <= 1.0 && v.compound(&extreme) > 0.99);
}

#[test]
fn analyzer_trait() {
    let v = Vader::new();
    let s = futures::executor::block_on(v.analyze("this is useless"));
    assert_eq!(s.compound, v.compound("this is useless"));
}
