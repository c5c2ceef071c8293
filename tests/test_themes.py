"""Themes, campaign cards and tracking, the digest and its schedule, on hand-built data (hashing embedder)."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from slack_sdk import WebClient

from bot import digest
from bot.campaigns import METRICS, CampaignDesk, card_for, ideas_for, load_rules, metric_text
from bot.errors import PlaybookError
from bot.message import OUTBOUND, Message, iso
from bot.themes import Theme, ThemeFinder, Window, trend_of
from nlp.themes import STOP_WORDS, AgglomerativeClusterer, ThemeEngine, ThresholdClusterer, assign, nearest_rows
from tests.fake_slack import FakeSlack

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)  # window 1: Nov 1-8, window 2: Nov 8-15
BATTERY = ["battery drain on my Fern Scale after firmware 2.3", "Fern Scale battery drain since firmware 2.3",
           "firmware 2.3 battery drain Fern Scale again", "my Fern Scale battery drain after the 2.3 firmware",
           "battery drain Fern Scale firmware 2.3 overnight", "Fern Scale firmware 2.3 battery drain is bad"]
BREWJAM = ["Brew Jam Lisbon tickets sold out?", "tickets for Brew Jam Lisbon please", "Brew Jam Lisbon tickets when",
           "any Brew Jam Lisbon tickets left"]
NOISE = ["what a lovely sunny day", "podcast recommendation anyone", "my cat sat on the keyboard"]


def msg(text, who, at, **kw):
    return Message(text=text, source=kw.pop("source", "telegram"), sender_id=who, sender_name=who.title(),
                   timestamp=at, **kw)


def engine(**kw):
    return ThemeEngine(AgglomerativeClusterer(distance_threshold=0.6), **kw)


@pytest.fixture
def inbox(fake_app):
    """Week 1: battery x3 (3 people); week 2: battery x6 (6 people, one opted out), Brew Jam x4, noise."""
    messages = []
    for i, text in enumerate(BATTERY[:3]):
        messages.append(msg(text, f"b{i}", T0 + timedelta(days=1, hours=i)))
    messages.append(msg(NOISE[0], "n0", T0 + timedelta(days=2)))
    for i, text in enumerate(BATTERY):
        messages.append(msg(text, f"b{i}", T0 + timedelta(days=8, hours=i)))
    for i, text in enumerate(BREWJAM):
        messages.append(msg(text, f"j{i}", T0 + timedelta(days=9, hours=i), source="slack"))
    for i, text in enumerate(NOISE):
        messages.append(msg(text, f"n{i}", T0 + timedelta(days=10, hours=i)))
    fake_app.pipeline.ingest(messages)
    fake_app.store.db.execute("UPDATE contacts SET opted_out_at = ? WHERE external_id = 'b5'", [iso(T0)])
    fake_app.__dict__["theme_engine"] = engine()
    return fake_app


# -- engine -----------------------------------------------------------------------------------------------------
def test_engine_is_deterministic_leaves_noise_out_and_labels_with_words_people_use():
    from nlp.embeddings import HashingEmbedder

    texts = BATTERY + BREWJAM + NOISE
    vectors = HashingEmbedder().encode(texts)
    first, second = engine().find(texts, vectors), engine().find(texts, vectors)
    assert [c.members for c in first.clusters] == [c.members for c in second.clusters]
    assert [c.label for c in first.clusters] == [c.label for c in second.clusters]
    assert len(first.clusters) == 2 and first.left_out == len(NOISE)
    assert set(first.clusters[0].members) == set(range(len(BATTERY)))
    for c in first.clusters:
        words = c.label.split()
        assert 2 <= len(words) <= 5 and not all(w.lower() in STOP_WORDS for w in words)
    assert "Fern Scale" in first.clusters[0].label or "battery drain" in first.clusters[0].label.lower()
    assert "Brew Jam" in first.clusters[1].label or "Lisbon" in first.clusters[1].label


@pytest.mark.parametrize("texts,label", [
    # a time word does not head a name when a thing can ("Days order" before)
    (["days and no order", "my order, 4 days late", "order still missing after days"], "Order"),
    # nor a word mostly used as a verb that is not used with the thing ("Ships window" before)
    (["before it ships, change the window", "it ships when?", "the window is cracked", "it ships today?",
      "window broke"], "Window"),
    # two single words joined as people join them ("Identity verify" before)
    (["verify my identity", "can you verify my identity", "identity check, verify it", "verify identity now",
      "identity: how to verify", "verify the identity docs"], "Verify my identity"),
    # two forms of one word say nothing more than one ("Payment payments" before)
    (["payment?", "payments!", "my payment", "the payments"], "Payment"),
    # a price thread is named by its price, not by a filler verb ("Go" before)
    (["does everyone go to €22?", "€22 with no notice", "jumping to €22 in one go", "€22 is too much, go back"],
     "€22"),
    # a name, not a sentence ("Kettle's temperature" before)
    (["the kettle's temperature is off", "kettle's temperature drops", "why is the kettle's temperature 80"],
     "Kettle temperature"),
    # "mind" is in idioms, not a topic ("Mind coffee" before)
    (["mind blown by this coffee", "coffee is bean soup, change my mind", "coffee again, never mind"], "Coffee"),
    # one person's order number, in each of their messages, names nothing ("FB-22862 refund" before)
    (["refund for fb-22862?", "fb-22862 refund still missing", "any news on the fb-22862 refund",
      "fb-22862: where is the refund"], "Refund"),
    # a price change is named by both prices, as people write it ("€18 €22" before: the arrow is no word)
    (["€18 → €22 with no warning", "€18 then €22, really?", "€18 was fine, €22 is not", "went €18 → €22"],
     "€18 to €22"),
    (["€22 with no warning", "does €22 include shipping?", "€18 + shipping before, now €22", "€18 was fine, €22 is not",
      "€22 and shipping"], "€18 to €22"),  # "€22 shipping" before
    # a participle names nothing beside another word ("Arrived order was packed", "Packed arrived")
    (["ordered Tuesday, arrived Thursday, beautifully packed. Well done!",
      "props to your warehouse team, my order was packed perfectly", "Arrived today 🙌 thanks for sorting it",
      "my order was packed with care and arrived early"], "Order was packed"),
    # an amount may join another amount, not a word ("Subscribers €22")
    (["subscribers pay €22 now", "€22 for subscribers?", "subscribers at €22, hm", "old subscribers and €22"],
     "Subscribers"),
    # other languages are named by their words, not their articles and verbs ("Meine Bestellung ist", "Ma
    # commande" before) and with every letter ("todav", "nde est mi" before)
    (["Meine Bestellung ist immer noch nicht da, wo bleibt sie?",
      "Wo ist meine Bestellung? Ich warte seit einer Woche.", "Meine Bestellung ist noch nicht angekommen.", "Die Lieferung ist immer noch nicht da, was ist los?"],
     "Bestellung"),
    (["Der Akku von meiner Fern Scale ist jeden Morgen leer.", "Der Akku hält nur einen Tag, das ist nicht normal.",
      "Mein Akku ist nach einer Nacht leer, was kann ich tun?"], "Akku leer"),
    (["Ma commande n'est toujours pas arrivée.", "Où est ma commande ? Je l'attends depuis dix jours.",
      "Je n'ai toujours pas reçu ma commande, c'est normal ?"], "Commande"),
    (["¿Dónde está la batería de repuesto?", "La batería de repuesto todavía no llegó",
      "Quiero la batería de repuesto"], "Batería de repuesto"),
    # a verb after "not" names nothing beside the noun it is about ("Chegou pedido" before)
    (["A minha encomenda ainda não chegou.", "O meu pedido ainda não chegou, o que aconteceu?",
      "Onde está o meu pedido? Ainda não chegou."], "Pedido"),
    # Italian and Dutch likewise: not their verbs and days ("Ordine arrivato", "Bestelling blijft" before)
    (["Il mio ordine non è ancora arrivato, sono passate due settimane", "Dov'è il mio ordine? Lo aspetto da dieci "
      "giorni.", "Ordine FB-20001 ancora non arrivato, cosa succede?"], "Ordine"),
    (["Hoi, mijn bestelling FB-21001 is na tien dagen nog steeds niet geleverd. Waar blijft die?",
      "Waar blijft mijn pakket? Al twee weken niks gehoord", "Goedemiddag, mijn bestelling is nog niet aangekomen, "
      "kunnen jullie kijken waar hij is?", "Bestelling FB-21044 nog steeds niet binnen, de track & trace zegt al "
      "dagen hetzelfde"], "Bestelling"),
])
def test_a_label_reads_as_people_write_it(texts, label):
    from nlp.themes import Cluster, label_clusters

    cluster = Cluster(list(range(len(texts))), np.zeros(2))
    label_clusters(texts, [cluster])
    assert cluster.label == label


@pytest.mark.parametrize("text, words", [
    ("Todavía no llegó: ¿dónde está?", ["todavía", "no", "llegó", "dónde", "está"]),
    ("l'application ne s'ouvre plus", ["l'", "application", "ne", "s'", "ouvre", "plus"]),
    ("I don't get it, it's €22 – isn’t it?", ["i", "don't", "get", "it", "it's", "€22", "isn't", "it"]),
    ("Größe 3.5 ok", ["größe", "3.5", "ok"]),
])
def test_words_are_read_in_any_alphabet_with_elisions_apart(text, words):
    from nlp.themes import tokens

    assert tokens(text) == words


def test_a_theme_whose_texts_share_no_phrase_is_not_named_by_one_message_s_amount_or_order_number():
    from nlp.themes import Cluster, label_clusters

    texts = ["my card was charged €139, did it go through?", "customs want £31 from me for FB-21839",
             "the refund came back as €20 less than I paid"]
    cluster = Cluster([0, 1, 2], np.zeros(2))
    label_clusters(texts, [cluster])
    assert cluster.label and not any(ch.isdigit() for ch in cluster.label)


def test_a_new_theme_is_not_named_like_another():
    from nlp.themes import distinct_label

    assert distinct_label("Bean Club", ["Bean Club", "Club price", "expensive"], set()) == "Bean Club"
    taken = {"bean club", "bean club price"}
    assert distinct_label("Bean Club", ["Bean Club", "Club price", "box 12 never"], taken) == "Bean Club box never"
    assert distinct_label("Bean Club", ["Bean Club"], taken | {"bean club 2"}) == "Bean Club 3"
    # a word of its own first, then what its people do; never a fragment with "the" ("Fern Scale Love the new")
    taken = {"fern scale"}
    assert distinct_label("Fern Scale", ["Fern Scale", "Love the new", "London"], taken, "praise") == \
        "Fern Scale London"
    assert distinct_label("Fern Scale", ["Fern Scale", "Love the new"], taken, "praise") == "Fern Scale praise"
    assert distinct_label("Fern Scale", ["Fern Scale", "Love the new"], taken) == "Fern Scale 2"


def test_threshold_clusterer_is_a_cheap_stand_in():
    v = np.eye(3, dtype=np.float32)[[0, 0, 1, 2, 2]]
    assert list(ThresholdClusterer(0.9).fit_predict(v)) == [0, 0, 1, 2, 2]


def many_texts():
    """60 texts of the two threads (repeated) with the 3 noise texts spread among them."""
    texts = [(BATTERY + BREWJAM)[i % 10] for i in range(60)]
    for at, text in zip((7, 31, 52), NOISE):
        texts.insert(at, text)
    return texts


def test_above_the_cap_a_sample_is_clustered_the_same_way_every_time_and_the_rest_assigned():
    from nlp.embeddings import HashingEmbedder

    texts = many_texts()
    vectors = HashingEmbedder().encode(texts)
    first, second = engine(exact_up_to=20).find(texts, vectors), engine(exact_up_to=20).find(texts, vectors)
    assert [c.members for c in first.clusters] == [c.members for c in second.clusters]
    assert [c.label for c in first.clusters] == [c.label for c in second.clusters]
    # every text is in a theme or left out; the far-off texts are the ones left out
    assert sorted(i for c in first.clusters for i in c.members) == [i for i, t in enumerate(texts) if t not in NOISE]
    assert first.left_out == len(NOISE)
    assert {frozenset(texts[i] for i in c.members) for c in first.clusters} == {frozenset(BATTERY), frozenset(BREWJAM)}


def test_below_the_cap_the_exact_path_is_unchanged():
    from nlp.embeddings import HashingEmbedder

    texts = many_texts()
    vectors = HashingEmbedder().encode(texts)
    at_cap, exact = engine(exact_up_to=len(texts)).find(texts, vectors), engine(exact_up_to=10**9).find(texts, vectors)
    assert [c.members for c in at_cap.clusters] == [c.members for c in exact.clusters]
    assert list(at_cap.assignment) == list(exact.assignment)
    sampled = engine(exact_up_to=len(texts) - 1)
    calls = []
    sampled._sampled_groups = lambda v, tone, weighted, sample: calls.append(len(v)) or []
    sampled.find(texts, vectors)
    assert calls == [len(texts)]  # one text over the cap: the sampled path


def test_assign_leaves_out_texts_far_from_every_theme_or_near_left_out_ones():
    reference = np.eye(4, dtype=np.float32)
    labels = np.array([0, 0, 1, -1])
    near_0, far = np.array([0.9, 0.1, 0, 0]), np.array([0.5, 0.45, 0.3, 0.2])  # far: cosine 0.66 to the nearest
    rows = np.stack([near_0 / np.linalg.norm(near_0), reference[2], reference[3], far / np.linalg.norm(far)])
    assert list(assign(rows, reference, labels, neighbours=2, similarity=0.7)) == [0, 1, -1, -1]
    assert list(assign(rows, reference, labels, neighbours=2, similarity=0.6)) == [0, 1, -1, 0]


def test_shared_neighbour_distances_are_the_blend_of_cosine_and_shared_neighbourhoods():
    from scipy.spatial.distance import squareform

    rng = np.random.default_rng(3)
    x = rng.normal(size=(1100, 8))  # more rows than one block of the similarity matrix
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    clusterer = AgglomerativeClusterer(shared_neighbours=5, shared_weight=0.4)
    sims = x @ x.T
    hoods = np.zeros_like(sims)
    np.put_along_axis(hoods, np.argsort(-sims, axis=1, kind="stable")[:, :5], 1.0, axis=1)
    expected = 1.0 - (0.6 * sims + 0.4 * (hoods @ hoods.T) / 5)
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(clusterer.distances(x), squareform(np.clip(expected, 0, None), checks=False), atol=1e-9)


def test_the_vote_gives_a_text_back_to_the_cluster_of_its_nearest_texts():
    rng = np.random.default_rng(5)
    a, b = np.eye(8)[0], np.eye(8)[1]
    x = np.vstack([a + 0.1 * rng.normal(size=(8, 8)), b + 0.1 * rng.normal(size=(8, 8)),
                   [0.9 * a + 0.2 * b], [0.5 * a + 0.5 * b]])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.array([0] * 8 + [1] * 8 + [1, 1])  # text 16 is A's, but average linkage put it with B
    voted = AgglomerativeClusterer(vote_neighbours=7).vote(x, labels)
    assert voted[16] == 0  # its 7 nearest other texts are A's
    assert list(voted[:16]) == list(labels[:16])  # the texts whose own cluster wins stay
    assert voted[17] in (0, 1)
    # a text does not vote for itself (its cosine 1 would outweigh its one nearest neighbour's)
    alone = labels.copy()
    alone[3] = 2
    assert AgglomerativeClusterer(vote_neighbours=1).vote(x, alone)[3] == 0
    # with 8 copies of a text, the last copy's 8 nearest are the others: still 7 other texts vote
    copies = np.vstack([x, np.repeat(x[:1], 8, axis=0)])
    again = AgglomerativeClusterer(vote_neighbours=7).vote(copies, np.append(labels, [0] * 8))
    assert list(again[18:]) == [0] * 8 and again[16] == 0


def test_a_large_input_is_voted_on_after_the_cut_and_a_small_one_is_not():
    rng = np.random.default_rng(7)
    centres = np.eye(16)[:4]
    x = np.vstack([c + 0.35 * rng.normal(size=(110, 16)) for c in centres])  # 440 texts: at least smooth_from
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    calls = []

    class Counting(AgglomerativeClusterer):
        def vote(self, vectors, labels, nearest=None):
            calls.append(len(vectors))
            return super().vote(vectors, labels, nearest)

    Counting().fit_predict(x)
    Counting().fit_predict(x[:300])
    assert calls == [440]


def _near_intents(n_each: int, seed: int = 3):
    """Two intents whose embeddings are alike (one cloud) but whose tone vectors differ, as "my top-up failed"
    and "my top-up was reverted" do; ``n_each`` texts each."""
    rng = np.random.default_rng(seed)
    centre = np.eye(16)[0]
    vectors = centre + 0.05 * rng.normal(size=(2 * n_each, 16))
    tone = np.vstack([np.eye(16)[1] + 0.05 * rng.normal(size=(n_each, 16)),
                      np.eye(16)[2] + 0.05 * rng.normal(size=(n_each, 16))]) + 2.0 * np.eye(16)[3]  # shared part
    return [f"top-up {i}" for i in range(2 * n_each)], vectors.astype(np.float32), tone.astype(np.float32)


def test_a_large_input_is_clustered_on_its_tone_vectors_too_and_a_small_one_is_not():
    texts, vectors, tone = _near_intents(220)  # 440 texts: at least tone_from
    plain = ThemeEngine().find(texts, vectors)
    toned = ThemeEngine().find(texts, vectors, tone)
    assert len(plain.clusters) == 1
    assert len(toned.clusters) == 2
    assert sorted({int(a) for a in toned.assignment[:220]} | {int(a) for a in toned.assignment[220:]}) == [0, 1]
    assert len(set(toned.assignment[:220])) == 1 and len(set(toned.assignment[220:])) == 1
    # the centroids (a theme's identity across windows) are of the embeddings alone
    assert all(c.centroid.shape == (16,) for c in toned.clusters)
    assert ThemeEngine(tone_weight=0).find(texts, vectors, tone).assignment.tolist() == plain.assignment.tolist()
    small_texts, small, small_tone = _near_intents(150)  # 300 texts: the embeddings alone
    assert (ThemeEngine().find(small_texts, small, small_tone).assignment.tolist()
            == ThemeEngine().find(small_texts, small).assignment.tolist())
    with pytest.raises(ValueError, match="tone vectors"):
        ThemeEngine().find(texts, vectors, tone[:-1])


def test_a_large_input_is_clustered_on_its_idf_weighted_vectors_in_place_of_its_embeddings():
    """Two intents alike in their embeddings but not in their idf-weighted vectors (the words that tell them apart
    weigh more there) are two themes in an input as large as the themes read them for, one below that."""
    texts, vectors, _ = _near_intents(220)  # 440 texts: at least tone_from
    rng = np.random.default_rng(5)
    weighted = np.vstack([np.eye(16)[5] + 0.05 * rng.normal(size=(220, 16)),
                          np.eye(16)[6] + 0.05 * rng.normal(size=(220, 16))]).astype(np.float32)
    assert len(ThemeEngine().find(texts, vectors).clusters) == 1
    found = ThemeEngine().find(texts, vectors, weighted=weighted)
    assert len(found.clusters) == 2 and len(set(found.assignment[:220])) == 1 and len(set(found.assignment[220:])) == 1
    assert all(np.allclose(c.centroid, found.clusters[0].centroid, atol=0.05) for c in found.clusters)  # embeddings'
    assert ThemeEngine(idf_pooled=False).find(texts, vectors, weighted=weighted).assignment.tolist() == \
        ThemeEngine().find(texts, vectors).assignment.tolist()
    small = ThemeEngine(tone_from=10**6)
    assert small.find(texts, vectors, weighted=weighted).assignment.tolist() == small.find(texts, vectors).assignment.tolist()
    with pytest.raises(ValueError, match="idf-weighted vectors"):
        ThemeEngine().find(texts, vectors, weighted=weighted[:-1])



def test_above_the_cap_the_sample_is_clustered_with_tone_and_the_rest_assigned_on_the_embeddings(monkeypatch):
    import nlp.themes as themes

    texts, vectors, tone = _near_intents(220)
    widths, real = [], themes.assign
    monkeypatch.setattr(themes, "assign", lambda rest, ref, *a: widths.append((rest.shape[1], ref.shape[1]))
                        or real(rest, ref, *a))
    result = ThemeEngine(exact_up_to=420).find(texts, vectors, tone)
    assert widths == [(16, 16)]  # the embeddings alone, not the 32 numbers of embedding and tone
    assert len(result.clusters) == 2  # the sample's two intents, told apart by their tone

def test_above_the_cap_the_rest_is_assigned_on_the_idf_weighted_vectors_when_the_sample_was_clustered_on_them(
        monkeypatch):
    import nlp.themes as themes

    texts, vectors, tone = _near_intents(220)
    weighted = np.roll(vectors, 3, axis=1) * 2.0  # another vector a text (not normalised: the engine does it)
    given, real = [], themes.assign
    monkeypatch.setattr(themes, "assign", lambda rest, ref, *a: given.append(rest) or real(rest, ref, *a))
    ThemeEngine(exact_up_to=420).find(texts, vectors, tone, weighted)
    rest = np.setdiff1d(np.arange(440), np.arange(420) * 440 // 420)
    np.testing.assert_allclose(given[-1], themes._normalise(weighted[rest]), atol=1e-6)
    ThemeEngine(exact_up_to=420, idf_pooled=False).find(texts, vectors, tone, weighted)
    np.testing.assert_allclose(given[-1], themes._normalise(vectors[rest]), atol=1e-6)


def test_tone_vectors_are_centred_before_they_count():
    """The shared part of every tone vector (their high raw cosines) is taken away: only what sets texts apart
    counts, so a tone shifted by the same vector everywhere clusters the same."""
    texts, vectors, tone = _near_intents(220)
    engine = ThemeEngine()
    shifted = tone + 5.0 * np.eye(16)[4]
    assert np.allclose(engine.space(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), tone),
                       engine.space(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), shifted), atol=1e-5)

def test_a_member_with_no_close_fellow_member_is_left_out():
    class OneGroup:
        def fit_predict(self, vectors):
            return np.zeros(len(vectors), dtype=int)

    tight = np.array([[1.0, 0.0], [0.99, 0.14], [0.99, -0.14], [0.97, 0.24]])
    off_topic = np.array([[0.3, 0.95]])  # cosine at most 0.53 to the others
    vectors = np.vstack([tight, off_topic])
    texts = ["battery drain"] * 4 + ["coffee podcast"]
    assert list(ThemeEngine(OneGroup(), assign_similarity=0.6).find(texts, vectors).assignment) == [0, 0, 0, 0, -1]
    assert list(ThemeEngine(OneGroup(), assign_similarity=0.5).find(texts, vectors).assignment) == [0, 0, 0, 0, 0]


def test_nearest_rows_is_the_stable_sort_even_with_ties():
    sims = np.random.default_rng(0).integers(0, 4, (50, 30)).astype(float)
    for k in (1, 3, 7, 30):
        assert (nearest_rows(sims, k) == np.argsort(-sims, axis=1, kind="stable")[:, :k]).all()


@pytest.mark.parametrize("current,previous,trend", [(5, 0, "new"), (8, 5, "growing"), (5, 5, "steady"),
                                                    (6, 5, "steady"), (2, 6, "fading"), (3, 2, "steady")])
def test_trend_classes(current, previous, trend):
    assert trend_of(current, previous) == trend


# -- identity across windows ----------------------------------------------------------------------------------------
def test_a_theme_keeps_its_id_and_label_across_windows_and_gets_a_trend(inbox):
    finder = ThemeFinder(inbox.store, engine())
    week1 = finder.find(timedelta(days=7), T0 + timedelta(days=7))
    week2 = finder.find(timedelta(days=7), T0 + timedelta(days=14))
    battery1 = next(t for t in week1.themes if t.size == 3)
    battery2 = next(t for t in week2.themes if t.id == battery1.id)
    assert battery2.label == battery1.label
    assert (battery2.trend, battery2.previous, battery2.size) == ("growing", 3, 6)
    jam = next(t for t in week2.themes if t.id != battery1.id)
    assert jam.trend == "new" and jam.previous == 0 and jam.sources == {"slack": 4}
    assert week2.left_out == len(NOISE)
    assert len(battery2.quotes) == 3 and len({q["from"] for q in battery2.quotes}) == 3
    again = finder.find(timedelta(days=7), T0 + timedelta(days=14))  # same data, same settings: same themes
    assert [(t.id, t.label, t.size, t.trend) for t in again.themes] == [(t.id, t.label, t.size, t.trend)
                                                                        for t in week2.themes]


def battery_told_german(app):
    """Four of the six battery reports of week 2 told to be German, one Spanish, one English."""
    ids = [r["id"] for r in app.store.db.query("SELECT id FROM messages WHERE text IN (?, ?, ?, ?, ?, ?) AND "
                                               "sent_at > ? ORDER BY id", [*BATTERY, iso(T0 + timedelta(days=7))])]
    for message_id, language in zip(ids, ["de", "de", "es", "de", "de", "en"]):
        app.store.db.execute("UPDATE analyses SET language = ? WHERE message_id = ?", [language, message_id])


def test_a_theme_counts_its_messages_in_other_languages_and_says_when_most_are_in_one(inbox):
    battery_told_german(inbox)
    week2 = ThemeFinder(inbox.store, engine()).find(timedelta(days=7), T0 + timedelta(days=14))
    battery = next(t for t in week2.themes if t.size == 6)
    jam = next(t for t in week2.themes if t.size == 4)
    assert (battery.languages, battery.language) == ({"de": 4, "es": 1}, "de")
    assert (jam.languages, jam.language) == ({}, None)
    assert battery.to_dict()["languages"] == {"de": 4, "es": 1}


def test_texts_answered_for_one_situation_are_one_thread_in_any_language():
    from bot.themes import by_situation
    from nlp.themes import Cluster

    english, german, other = (Cluster(members, np.zeros(2)) for members in ([0, 1, 2], [3, 4, 5], [6, 7]))
    battery = "known_battery_drain"
    situations = [battery, battery, None, battery, battery, "price_change", None, battery, battery, None]
    clusters, joined = by_situation([english, german, other], situations)
    # the German cluster (two of three) joins the English one (two of three), and so does a left-out report (8);
    # a cluster where it is one text of two stays as it is (7), as does a left-out text of no situation (9)
    assert [c.members for c in clusters] == [[0, 1, 2, 3, 4, 5, 8], [6, 7]] and joined == 1
    assert clusters[1] is other
    assert by_situation([english, german, other], [None] * 10) == ([english, german, other], 0)


GERMAN_BATTERY = ["Akku der Fern Scale jeden Morgen leer", "Fern Scale Akku jeden Morgen leer, was tun",
                  "jeden Morgen ist der Akku der Fern Scale leer"]


def test_reports_of_a_known_issue_in_another_language_join_its_theme_and_campaign(inbox, monkeypatch):
    """The embedding model is English: reports of the battery issue in a language it has no gloss for are near each
    other, not near the English ones. The playbooks answer both with the known issue's reply (its situation), so they
    are one theme."""
    monkeypatch.setattr("nlp.gloss.glossary", lambda code: {})  # German as a language without a glossary
    late = msg("Batterie leer seit Update", "g9", T0 + timedelta(days=12))
    inbox.pipeline.ingest([msg(text, f"g{i}", T0 + timedelta(days=11, hours=i)) for i, text in
                           enumerate(GERMAN_BATTERY)] + [late])
    ids = {r["text"]: r["id"] for r in inbox.store.db.query("SELECT id, text FROM messages")}
    answered = {**{t: "known_battery_drain" for t in BATTERY},
                **{t: "known_battery_drain_de" for t in GERMAN_BATTERY + ["Batterie leer seit Update"]}}
    for text, reply_id in answered.items():
        inbox.store.db.execute("UPDATE suggestions SET intent = 'technical_problem', reply_id = ? WHERE message_id = ? "
                               "AND rank = 1", [reply_id, ids[text]])
        inbox.store.db.execute("UPDATE analyses SET intent = 'technical_problem', language = ? WHERE message_id = ?",
                               ["en" if text in BATTERY else "de", ids[text]])
    apart = ThemeFinder(inbox.store, engine()).find(timedelta(days=7), T0 + timedelta(days=14))
    assert sorted(t.size for t in apart.themes) == [3, 4, 6]  # one issue, two themes: English and German
    situations = {("technical_problem", "known_battery_drain"): "known_battery_drain",
                  ("technical_problem", "known_battery_drain_de"): "known_battery_drain"}
    report = ThemeFinder(inbox.store, engine(), situations=situations).find(timedelta(days=7), T0 + timedelta(days=14))
    battery = next(t for t in report.themes if t.size > 6)
    assert battery.size == 10 and battery.languages == {"de": 4} and sorted(t.size for t in report.themes) == [4, 10]
    assert report.left_out == apart.left_out - 1  # the German report left out of every theme joined it
    assert battery.label == next(t for t in apart.themes if t.size == 6).label  # the English theme, grown
    assert battery.situation == "known_battery_drain" and battery.to_dict()["situation"] == "known_battery_drain"
    assert {t.situation for t in apart.themes} == {None}
    card = card_for(battery, load_rules().rule_for(battery), report.window)
    assert card["kind"] == "known issue" and "German 4" in card["why"] and card["segment"]["size"] == 9  # b5 opted out


def test_reports_in_another_language_join_the_english_theme_through_their_gloss(inbox):
    """A German report is embedded through its English gloss ("battery the Fern Scale every morning empty"), so it
    lands with the English reports of the same thing, whatever it was answered with."""
    inbox.pipeline.ingest([msg(text, f"g{i}", T0 + timedelta(days=11, hours=i)) for i, text in
                           enumerate(GERMAN_BATTERY)])
    report = ThemeFinder(inbox.store, engine()).find(timedelta(days=7), T0 + timedelta(days=14))
    battery = max(report.themes, key=lambda t: t.size)
    assert battery.size == 9 and battery.languages == {"de": 3}
    assert sorted(t.size for t in report.themes) == [4, 9]


def test_a_window_of_another_length_has_threads_of_its_own(inbox):
    """A fortnight's threads are not a week's: they get their own ids and are named by what they hold, and the
    weekly themes keep theirs."""
    finder = ThemeFinder(inbox.store, engine())
    week = finder.find(timedelta(days=7), T0 + timedelta(days=14))
    fortnight = finder.find(timedelta(days=14), T0 + timedelta(days=14))
    assert fortnight.themes and not {t.id for t in week.themes} & {t.id for t in fortnight.themes}
    battery = next(t for t in fortnight.themes if t.size == 9)  # both weeks' battery reports, one thread
    assert battery.label == next(t for t in week.themes if t.size == 6).label  # not "... 2": another length
    again = finder.find(timedelta(days=7), T0 + timedelta(days=14))
    assert [(t.id, t.label) for t in again.themes] == [(t.id, t.label) for t in week.themes]


def test_a_themes_intents_count_a_persons_corrections(inbox):
    """Messages a manager re-labelled as complaints (sarcasm the model missed) count as complaints in their theme,
    whose campaign rule reads its intents."""
    finder = ThemeFinder(inbox.store, engine())
    jam = next(t for t in finder.find(timedelta(days=7), T0 + timedelta(days=14)).themes if t.sources == {"slack": 4})
    for message_id in jam.message_ids[:3]:
        inbox.store.open_card(message_id)
        assert inbox.store.correct_intent(message_id, "complaint", "UMANAGER1")
    again = next(t for t in finder.find(timedelta(days=7), T0 + timedelta(days=14)).themes if t.id == jam.id)
    assert again.intents[0] == {"intent": "complaint", "count": 3}


def test_a_window_is_clustered_once_until_its_messages_change(inbox):
    finder = ThemeFinder(inbox.store, engine())
    calls, find = [], finder.engine.find
    finder.engine.find = lambda texts, vectors, tone=None, weighted=None: (calls.append(len(texts))
                                                                      or find(texts, vectors, tone, weighted))
    until = T0 + timedelta(days=14)
    first = finder.find(timedelta(days=7), until)
    again = finder.find(timedelta(days=7), until)
    assert calls == [4, 13]  # the week before and this week, clustered once
    assert [t.to_dict(full=True) for t in again.themes] == [t.to_dict(full=True) for t in first.themes]
    inbox.pipeline.ingest([msg(BREWJAM[0], "j9", T0 + timedelta(days=12), source="slack")])
    changed = finder.find(timedelta(days=7), until)
    assert calls == [4, 13, 14]  # only the week that changed
    assert next(t for t in changed.themes if t.sources.get("slack")).size == 5


# -- campaigns --------------------------------------------------------------------------------------------------
def theme(**kw):
    base = dict(id=1, label="Fern Scale battery drain", size=9, contacts=6, sources={"telegram": 9},
                sentiment={"negative": 6, "neutral": 3, "positive": 0}, intents=[{"intent": "technical_problem",
                                                                                   "count": 9}],
                quotes=[{"from": "A", "text": "drains"}], keyphrases=["battery drain"], trend="growing", previous=4,
                segment_contact_ids=[1, 2, 3, 4, 5], contact_ids=[1, 2, 3, 4, 5, 6])
    base.update(kw)
    return Theme(**base)


WINDOW = Window(T0, T0 + timedelta(days=7))


@pytest.mark.parametrize("kw,kind,metric", [
    ({}, "known issue", "theme_volume"),  # a product fault: the fix first, not an offer
    ({"intents": [{"intent": "complaint", "count": 9}]}, "recovery", "negative_share"),
    ({"intents": [{"intent": "feature_request", "count": 9}], "sentiment": {"neutral": 9}}, "beta", "response_rate"),
    ({"intents": [{"intent": "praise", "count": 9}], "sentiment": {"positive": 9}}, "testimonial", "response_rate"),
    ({"intents": [{"intent": "product_question", "count": 9}], "sentiment": {"neutral": 9}}, "faq", "theme_volume"),
    ({"intents": [{"intent": "subscription", "count": 9}], "sentiment": {"neutral": 9}}, "retention", "response_rate"),
    ({"intents": [{"intent": "unsubscribe", "count": 9}]}, "fix the cause", "theme_volume"),  # negative: no offer
    ({"intents": [{"intent": "privacy_request", "count": 9}]}, "fix the cause", "theme_volume"),
    ({"intents": [{"intent": "follow_up", "count": 9}]}, "fix the cause", "theme_volume"),  # answers, not an offer
])
def test_a_card_for_each_rule_kind(kw, kind, metric):
    rules = load_rules()
    t = theme(**kw)
    rule = rules.rule_for(t)
    card = card_for(t, rule, WINDOW)
    assert card["kind"] == kind and card["metric"]["name"] == metric
    assert 3 <= len(card["actions"]) <= 5 and "{" not in " ".join(card["actions"]) + card["title"]
    assert card["channel"] == "telegram" and card["days"] > 0
    assert card["segment"]["size"] == 5 and card["segment"]["opted_out_excluded"] == 1
    assert card["metric"]["baseline"] is not None and card["review_date"] > "2026-11-08"
    assert "6 people" in card["why"] and "growing" in card["why"] and card["quotes"]
    assert "_" not in card["why"]  # the team reads "technical problem", not the intent's identifier


@pytest.mark.parametrize("languages, size, said, language", [
    ({"es": 5, "de": 1}, 9, "Written in Spanish (5 of 9): write to them in Spanish.", "es"),
    # most of them wrote in English, some did not
    ({"es": 4, "de": 1}, 9, "Some wrote in other languages (Spanish 4, German 1): write to them in theirs.", None),
    ({}, 9, None, None),
])
def test_a_card_for_people_who_wrote_in_another_language_says_to_write_in_it(languages, size, said, language):
    card = card_for(theme(languages=languages, size=size), load_rules().rule_for(theme()), WINDOW)
    assert card["why"].endswith(said) if said else "language" not in card["why"]
    assert card["language"] == language


def test_a_recovery_card_says_how_many_were_upset():
    """A theme is negative when most of its messages are, not all: the title does not call everyone upset."""
    t = theme(sentiment={"negative": 3, "neutral": 2, "positive": 2}, size=7, contacts=7,
              intents=[{"intent": "complaint", "count": 7}])
    card = card_for(t, load_rules().rule_for(t), WINDOW)
    assert card["kind"] == "recovery"
    assert card["title"] == "Win back the people upset about “Fern Scale battery drain” (3 of 7 messages negative)"


@pytest.mark.parametrize("label,intent", [
    ("Kettle praise", "praise"), ("Bean Club", "pricing"), ("Dark mode", "feature_request"),
    ("Scale battery problems", "technical_problem"), ("Lisbon Brew Jam", "event_question"),
])
def test_every_card_names_the_theme_once_whatever_its_label_says(label, intent):
    """A label may already say what people do ("Kettle praise"): no title repeats it ("praising “Kettle praise”")."""
    from nlp.themes import same_word

    rules = load_rules()
    for rule in (r for r in rules.rules if r.template is not None):
        sentiment = {"negative": 9} if "negative" in rule.when.get("sentiment", ()) else {"neutral": 9}
        t = theme(label=label, intents=[{"intent": (rule.when.get("intent") or (intent,))[0], "count": 9}],
                  sentiment=sentiment)
        card = card_for(t, rule, WINDOW)
        templates = [rule.template["title"], *rule.template["actions"]]
        for template, text in zip(templates, [card["title"], *card["actions"]]):
            if "{label}" not in template:
                continue
            assert text.count(f"“{label}”") == 1, text
            rest = text.replace(f"“{label}”", " ").lower().split()
            assert not [w for w in rest if any(same_word(w, x) for x in label.lower().split())], text


def test_a_one_word_label_says_what_people_do_without_repeating_itself():
    from bot.themes import named_by_intent

    assert named_by_intent("Kettle", "praise") == "Kettle praise"
    assert named_by_intent("Order", "order_status") == "Order status"  # not "Order orders"
    assert named_by_intent("Refund", "refund_return") == "Refund requests"
    assert named_by_intent("Praise", "praise") == "Praise messages"
    assert named_by_intent("Bean Club", "pricing") == "Bean Club"
    assert named_by_intent("Days", "order_status") == "Order status"  # a time word names nothing
    assert named_by_intent("Data", "privacy_request") == "Data requests"
    # when the first intent is not most of the theme, the second as common says what else it is
    assert named_by_intent("Kettle", "praise", "technical_problem") == "Kettle praise and problems"
    assert named_by_intent("Kettle", "praise", "unknown") == "Kettle praise"  # "and messages" says nothing
    assert named_by_intent("Event", "event_question", "product_question") == "Event questions"  # not twice
    assert named_by_intent("Support", "follow_up", "praise") == "Support follow-ups and praise"
    assert named_by_intent("Support", "unknown", "praise") == "Support messages"
    assert named_by_intent("Kettle", "") == "Kettle messages"  # no intent of two messages or more
    # a noun before another is singular
    assert named_by_intent("Subscribers", "pricing") == "Subscriber pricing"
    assert named_by_intent("Grinders", "praise") == "Grinder praise"
    assert named_by_intent("Others", "praise") == "Others praise" and named_by_intent("News", "") == "News messages"


@pytest.mark.parametrize("intent", ["greeting", "thanks"])
def test_small_talk_recurs_but_gets_no_campaign(intent):
    """"Hello from Austin", "Olá a todos!" (hello to all, through its gloss) and "happy Friday y'all" are one theme
    of four people; it asks for nothing, so it is not offered an FAQ to write."""
    rules = load_rules()
    t = theme(label="Happy greetings", intents=[{"intent": intent, "count": 4}], sentiment={"positive": 3})
    assert rules.rule_for(t).template is None
    assert ideas_for(SimpleNamespace(window=WINDOW, themes=[t]), rules) == []
    other = theme(intents=[{"intent": "product_question", "count": 9}], sentiment={"neutral": 9})
    assert [card["kind"] for _, _, card in ideas_for(SimpleNamespace(window=WINDOW, themes=[t, other]), rules)] == ["faq"]


def test_broken_campaign_rules_name_file_and_line(tmp_path):
    path = tmp_path / "campaigns.yml"
    path.write_text("rules:\n  - id: x\n    when: {trend: [rising]}\n    template: {}\n")
    with pytest.raises(PlaybookError) as err:
        load_rules(path)
    assert err.value.path == str(path) and err.value.line == 3 and "rising" in err.value.problem
    path.write_text("rules:\n  - id: x\n    template:\n      title: t\n      channel: email\n      days: 7\n"
                    "      actions: [a, b]\n      metric: theme_volume\n")
    with pytest.raises(PlaybookError, match=r"campaigns.yml:7: rule x: 'actions' must be a list of 3 to 5"):
        load_rules(path)
    path.write_text("rules:\n  - id: x\n    when: {intent: [greeting]}\n    campaign: later\n")
    with pytest.raises(PlaybookError, match=r"campaigns.yml:4: rule x: 'campaign: false' .* without a template"):
        load_rules(path)


def test_ideas_exclude_opted_out_contacts_and_campaigns_are_tracked(inbox):
    report = inbox.themes.find(timedelta(days=7), T0 + timedelta(days=14))
    desk = CampaignDesk(inbox.store, load_rules(), now=lambda: T0 + timedelta(days=14))
    ideas = desk.record_ideas(report)
    assert desk.record_ideas(report) == ideas  # recorded once per theme, rule and window
    battery = next(c for c in ideas if c["card"]["theme"]["current"] == 6)
    opted_out = inbox.store.db.execute("SELECT id FROM contacts WHERE external_id = 'b5'").fetchone()[0]
    assert opted_out not in battery["segment"] and len(battery["segment"]) == 5
    assert battery["card"]["segment"]["size"] == 5
    adopted = desk.adopt(battery["id"], "U1")
    assert adopted["state"] == "adopted" and adopted["review_at"] > adopted["adopted_at"]
    # after adoption two people of the segment write again, one of them angry
    inbox.pipeline.ingest([msg("thanks, the fix worked great!", "b0", T0 + timedelta(days=15)),
                           msg("still broken and I am furious, terrible", "b1", T0 + timedelta(days=16))])
    desk.now = lambda: T0 + timedelta(days=30)
    assert [c["id"] for c in desk.due()] == [battery["id"]]
    reviewed = desk.review(battery["id"])
    r = reviewed["result"]
    assert r["messages_from_segment"] == 2 and r["contacts_who_wrote"] == 2 and r["metric"] == battery["metric"]
    closed = desk.close(battery["id"], "pivot")
    assert closed["state"] == "closed" and closed["decision"] == "pivot"


def test_a_review_right_after_adoption_claims_nothing(inbox):
    report = inbox.themes.find(timedelta(days=7), T0 + timedelta(days=14))
    desk = CampaignDesk(inbox.store, load_rules(), now=lambda: T0 + timedelta(days=14))
    battery = next(c for c in desk.record_ideas(report) if c["card"]["theme"]["current"] == 6)
    desk.adopt(battery["id"], "U1")
    desk.now = lambda: T0 + timedelta(days=14, hours=1)
    assert desk.review(battery["id"])["result"]["verdict"].startswith("too early")  # 0 a week so far, not "better"
    desk.now = lambda: T0 + timedelta(days=16)
    assert desk.review(battery["id"])["result"]["verdict"] == "better"


def test_a_metric_reads_as_a_percentage_or_a_count():
    assert [metric_text("negative_share", 0.429), metric_text("response_rate", 0.0), metric_text("theme_volume", 16.0),
            metric_text("theme_volume", 2.33), metric_text("positive_share", None)] == [
        "43%", "0%", "16", "2.3", "no data yet"]


def test_the_review_command_says_what_it_measured_and_which_database_it_read(inbox, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    report = inbox.themes.find(timedelta(days=7), T0 + timedelta(days=14))
    desk = CampaignDesk(inbox.store, load_rules(), now=lambda: T0 + timedelta(days=14))
    battery = next(c for c in desk.record_ideas(report) if c["card"]["theme"]["current"] == 6)
    desk.adopt(battery["id"], "U1")
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    db = str(inbox.store.path)
    result = CliRunner().invoke(cli, ["campaigns", "review", str(battery["id"]), "--db", db])
    assert result.exit_code == 0, result.output
    what = METRICS[battery["metric"]][0]
    assert f"{what} since " in result.output and battery["metric"] not in result.output  # "theme_volume" says little
    assert ", against a baseline of 6;" in result.output  # a count as a number, not 6.0
    result = CliRunner().invoke(cli, ["campaigns", "adopt", "999", "--db", db])
    assert result.exit_code == 1 and f"campaign 999: no such campaign in {db}" in result.output


# -- digest -----------------------------------------------------------------------------------------------------
@pytest.fixture
def replied(inbox):
    """Replies in the battery conversations of b0 (after 2 h) and b1 (after 4 h) in week 2."""
    for who, hours in (("b0", 2), ("b1", 4)):
        row = inbox.store.db.execute(
            "SELECT m.sent_at, v.external_id FROM messages m JOIN conversations v ON v.id = m.conversation_id "
            "JOIN contacts c ON c.id = m.contact_id WHERE c.external_id = ? AND m.sent_at > ?",
            [who, iso(T0 + timedelta(days=7))]).fetchone()
        from bot.message import parse_time

        inbox.store.add_message(Message(text="here is the fix", source="telegram", sender_id="resonate",
                                        chat_id=row[1], direction=OUTBOUND,
                                        timestamp=parse_time(row[0]) + timedelta(hours=hours)))
    return inbox


def test_a_campaigns_people_are_its_segment_with_what_they_wrote_on_the_theme(replied, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    report = replied.themes.find(timedelta(days=7), T0 + timedelta(days=14))
    desk = CampaignDesk(replied.store, load_rules(), now=lambda: T0 + timedelta(days=14))
    battery = next(c for c in desk.record_ideas(report) if c["card"]["theme"]["current"] == 6)
    people = desk.people(battery["id"])
    # b5 had opted out before the idea; each of the others with their battery report of week 2, not of week 1
    assert sorted(p["handle"] for p in people["people"]) == ["b0", "b1", "b2", "b3", "b4"]
    week2 = iso(T0 + timedelta(days=7))
    assert all(len(p["messages"]) == 1 and p["messages"][0]["sent_at"] > week2 and p["messages"][0]["text"] in BATTERY
               for p in people["people"])
    answered = {p["handle"]: p["messages"][0]["answered_at"] for p in people["people"]}
    assert answered["b0"] and answered["b1"] and not any(answered[h] for h in ("b2", "b3", "b4"))
    # campaigns recorded before their messages were kept: each person's last message up to the window's end
    replied.store.db.execute("UPDATE campaigns SET segment_messages = '[]' WHERE id = ?", [battery["id"]])
    assert desk.people(battery["id"])["people"] == people["people"]
    # someone who opts out after the idea is no longer listed, and counted
    replied.store.set_opted_out("telegram", "b4")
    later = desk.people(battery["id"])
    assert len(later["people"]) == 4 and later["opted_out_since"] == 1
    monkeypatch.setenv("RESONATE_EMBEDDER", "hashing")
    db, out = str(replied.store.path), tmp_path / "people.csv"
    result = CliRunner().invoke(cli, ["campaigns", "people", str(battery["id"]), "--db", db, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 people to write to; 1 person opted out since, left out" in result.output
    assert "not answered" in result.output
    rows = out.read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "name,source,handle,language,message_id,sent_at,answered_at,text" and len(rows) == 5
    result = CliRunner().invoke(cli, ["campaigns", "people", str(battery["id"]), "--db", db, "--out", "p.txt"])
    assert result.exit_code == 1 and "--out p.txt: write the people to a .csv file" in result.output


def test_digest_numbers_match_the_hand_built_inbox(replied, tmp_path):
    data, png = replied.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "digest.md")
    v = data["volume"]
    assert (v["messages"], v["previous"]) == (13, 4) and v["change_pct"] == 225.0
    # week 2: battery x6 on its 2nd day, Brew Jam x4 on the 3rd, noise x3 on the 4th; week 1: days 2 and 3
    assert v["per_day"] == [0, 6, 4, 3, 0, 0, 0] and v["previous_per_day"] == [0, 3, 1, 0, 0, 0, 0]
    r = data["response"]
    assert r["answered"] == 2 and r["median_hours_to_first_reply"] == 3.0
    assert r["share_answered"] == round(2 / 13, 3) and r["waiting_over_24h"] == 11
    assert sum(data["sentiment"].values()) == 13
    assert [t["trend"] for t in data["themes"]] == ["growing", "new"]
    assert data["ideas"] and all(i["id"] for i in data["ideas"])
    md = Path(data["file"]).read_text()
    assert "13 messages" in md and "Median time to first reply: 3.0 h" in md and png.name in md
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html_data, _ = replied.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "digest.html")
    assert Path(html_data["file"]).read_text().startswith("<!doctype html>")


def test_the_digest_says_which_theme_is_written_in_another_language(inbox, tmp_path):
    battery_told_german(inbox)
    data, _ = inbox.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "digest.md")
    battery, jam = data["themes"]
    assert (battery["language"], jam["language"]) == ("de", None)
    md = Path(data["file"]).read_text(encoding="utf-8")
    assert f"**{battery['label']}**: 6 messages from 6 people, in German, growing" in md
    assert f"**{jam['label']}**: 4 messages from 4 people, new" in md
    themes = next(b["text"]["text"] for b in digest.blocks(data) if b.get("text", {}).get("text", "").startswith(
        "*Themes*"))
    assert f"*{battery['label']}*: 6 (growing, was 3), in German" in themes


def test_the_digest_counts_the_people_who_had_to_ask_again(inbox, tmp_path):
    for i, at in enumerate([T0 + timedelta(days=3), T0 + timedelta(days=11), T0 + timedelta(days=12)]):
        inbox.pipeline.receive(msg("any update on this?", f"b{i}", at))
    data, _ = inbox.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "digest.md")
    assert (data["response"]["chased"], data["response"]["previous_chased"]) == (2, 1)
    assert "- Follow-ups (people asking again): 2 (previous week 1)" in Path(data["file"]).read_text()
    fields = [f["text"] for b in digest.blocks(data) for f in b.get("fields", [])]
    assert "*Follow-ups (asked again)*\n2 (was 1)" in fields


def test_the_digests_top_intents_count_a_persons_corrections(inbox, tmp_path):
    week = [iso(T0 + timedelta(days=7)), iso(T0 + timedelta(days=14))]
    rows = inbox.store.db.execute(
        "SELECT m.id, a.intent FROM messages m JOIN analyses a ON a.message_id = m.id WHERE m.direction = 'in' "
        "AND m.sent_at > ? AND m.sent_at <= ? AND a.intent NOT IN ('complaint', 'unknown') ORDER BY m.id",
        week).fetchall()
    (first, intent), (second, _) = [r for r in rows if r[1] == rows[0][1]][:2]  # two messages of one intent
    before, _ = inbox.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "before.md")
    for message_id in (first, second):  # a person reads them as complaints
        inbox.store.open_card(message_id)
        assert inbox.store.correct_intent(message_id, "complaint", "UMANAGER1")
    after, _ = inbox.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "after.md")
    was = {i["intent"]: i["count"] for i in before["top_intents"]}
    now = {i["intent"]: i["count"] for i in after["top_intents"]}
    assert now["complaint"] == was.get("complaint", 0) + 2 and now.get(intent, 0) == was[intent] - 2


def test_digest_of_a_quiet_week_still_has_a_chart(inbox, tmp_path):
    data, png = inbox.digest(timedelta(days=7), T0 - timedelta(days=30), tmp_path / "quiet.md")
    assert data["volume"]["messages"] == 0 and not data["themes"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


def test_digest_is_posted_as_block_kit_with_buttons_and_the_chart_uploaded(replied, fake, tmp_path):
    data, png = replied.digest(timedelta(days=7), T0 + timedelta(days=14), tmp_path / "d.md")
    client = WebClient(token="xoxb-test", base_url=fake.url)
    digest.post(client, "CDIGEST01", data, png)
    post = fake.posts_to("CDIGEST01")[0]
    actions = [b for b in post["blocks"] if b["type"] == "actions"]
    assert len(actions) == len(data["ideas"]) >= 1
    assert {e["action_id"] for e in actions[0]["elements"]} == {digest.ACTION_ADOPT, digest.ACTION_DISMISS}
    idea = data["ideas"][0]
    card = next(b["text"]["text"] for b in post["blocks"] if "💡" in b.get("text", {}).get("text", ""))
    assert f"Success metric: {idea['metric']['description']} (baseline " in card  # what it measures, not its id
    assert fake.of("files.getUploadURLExternal")[0].body["filename"] == png.name
    assert fake.of("upload")[0].body["bytes"] == png.read_bytes()
    complete = fake.of("files.completeUploadExternal")[0].body
    assert complete["channel_id"] == "CDIGEST01"
    # no customer's words or name in the channel (`resonate forget` cannot reach a posted digest; it need not)
    quoted = [t["quote"] for t in data["themes"]] + [q["text"] for i in data["ideas"] for q in i["quotes"]]
    assert quoted and all(q not in json.dumps(post, ensure_ascii=False) for q in quoted)
    assert not any(q["from"] in json.dumps(post, ensure_ascii=False) for i in data["ideas"] for q in i["quotes"])


def test_the_schedule_posts_once_per_period_even_across_restarts(replied, fake, tmp_path, monkeypatch):
    import tempfile

    from bot.bootstrap import App
    from bot.config import Config
    from nlp.embeddings import HashingEmbedder

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    client = WebClient(token="xoxb-test", base_url=fake.url)
    schedule = digest.Schedule.parse("mon 09:00", "Europe/Lisbon")
    monday = datetime(2026, 11, 16, 9, 30, tzinfo=timezone.utc)  # 09:30 in Lisbon (WET = UTC)
    assert digest.run_due(replied, client, "CDIGEST01", schedule, monday - timedelta(hours=1)) == "2026-W46"
    assert digest.run_due(replied, client, "CDIGEST01", schedule, monday) == "2026-W47"
    assert digest.run_due(replied, client, "CDIGEST01", schedule, monday + timedelta(hours=3)) is None
    restarted = App(replied.config, embedder=HashingEmbedder())  # a new process on the same database
    try:
        assert digest.run_due(restarted, client, "CDIGEST01", schedule, monday + timedelta(days=2)) is None
        assert digest.run_due(restarted, client, "CDIGEST01", schedule, monday + timedelta(days=7)) == "2026-W48"
    finally:
        restarted.close()
    assert len(fake.posts_to("CDIGEST01")) == 3
    # what was posted is not left behind on disk, week after week (the Markdown quotes customers)
    assert list(scratch.iterdir()) == []
    assert replied.store.db.execute("SELECT COUNT(*) FROM digests WHERE path IS NOT NULL").fetchone()[0] == 0


@pytest.mark.model
def test_sample_inbox_themes_with_the_real_model(tmp_path_factory):
    """The bundled inbox's last week: Brew Jam Lisbon is new, the Fern Scale battery thread is growing."""
    from bot.bootstrap import App
    from bot.channels.files import read_file
    from bot.config import Config
    from bot.demo import sample_inbox_path
    from bot.message import parse_time

    base = tmp_path_factory.mktemp("inbox")
    app = App(Config(db=base / "inbox.db", cache_dir=base / "cache"))
    try:
        app.pipeline.ingest(read_file(sample_inbox_path()).messages)
        until = parse_time(app.store.summary()["last_message_at"])
        report = app.themes.find(timedelta(days=7), until)
        by_text = {t.id: " ".join(q["text"] for q in t.quotes).lower() for t in report.themes}
        jam = [t for t in report.themes if "brew jam" in by_text[t.id] and "lisbon" in by_text[t.id]]
        battery = [t for t in report.themes if "scale" in by_text[t.id] and ("2.3" in by_text[t.id]
                                                                            or "battery" in by_text[t.id])]
        assert jam and jam[0].trend == "new"
        assert battery and battery[0].trend == "growing"
        named = [t.label.lower() for t in report.themes] + [g["label"].lower() for g in report.gone]
        assert len(set(named)) == len(named)  # no two threads of one report under the same name
        again = app.themes.find(timedelta(days=7), until)
        assert [(t.id, t.label, t.size) for t in again.themes] == [(t.id, t.label, t.size) for t in report.themes]
        ideas = app.campaigns.record_ideas(report)
        assert {c["kind"] for c in ideas} >= {"faq", "testimonial"}
    finally:
        app.close()


@pytest.mark.parametrize("values", ["continuous", "ties", "duplicate_columns"])
def test_nearest_rows_of_wide_rows_is_the_stable_sort(values):
    rng = np.random.default_rng(1)
    sims = rng.standard_normal((120, 2500))  # wide enough that only the best column groups are searched
    if values == "ties":
        sims = np.round(sims, 1)
    elif values == "duplicate_columns":
        sims = np.concatenate([sims, sims[:, :700]], axis=1)
    for k in (1, 7, 30):
        assert (nearest_rows(sims, k) == np.argsort(-sims, axis=1, kind="stable")[:, :k]).all()


def test_blocks_side_by_side_give_what_one_block_gives(monkeypatch):
    import nlp.themes as themes

    rng = np.random.default_rng(3)
    reference = rng.standard_normal((300, 16))
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    rows = rng.standard_normal((2500, 16))  # three blocks of 1,024 rows
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    labels = rng.integers(-1, 8, len(reference))
    in_blocks = assign(rows, reference, labels, neighbours=5, similarity=0.3)
    nearest = themes._nearest(rows, 6)
    monkeypatch.setattr(themes, "_ROWS", 10_000)
    assert (assign(rows, reference, labels, neighbours=5, similarity=0.3) == in_blocks).all()
    assert (themes._nearest(rows, 6) == nearest).all()


def test_a_quote_is_the_message_on_one_line_without_its_closing():
    from bot.themes import quote_text

    assert quote_text("The lid leaks.\n\nIt steams everywhere.\n\nKind regards,\nPaula Novak") == \
        "The lid leaks. It steams everywhere."
    assert quote_text("word " * 100).endswith("…") and len(quote_text("word " * 100)) == 220


@pytest.mark.parametrize("intents, label", [
    (["praise", "praise", "technical_problem"], "Kettle praise"),
    (["praise", "praise", "technical_problem", "technical_problem", "order_status"], "Kettle praise and problems"),
    # three messages of three intents: none names the theme ("Kettle refunds and requests" before)
    (["refund_return", "human_handoff", "order_status"], "Kettle messages"),
])
def test_a_theme_is_named_by_an_intent_only_when_several_messages_share_it(intents, label):
    from bot.themes import _describe
    from nlp.themes import Cluster

    members = [{"id": i, "text": f"kettle {i}", "source": "slack", "sent_at": "2026-11-02T10:00:00Z",
                "contact_id": i, "display_name": f"P{i}", "opted_out_at": None, "tags": None, "intent": intent,
                "sentiment": "neutral", "language": None} for i, intent in enumerate(intents)]
    vectors = np.eye(len(intents), 4, dtype=np.float32)
    theme = _describe(1, "Kettle", Cluster(list(range(len(intents))), vectors.mean(axis=0)), members, vectors)
    assert theme.label == label


@pytest.mark.parametrize("column", ["tone", "weighted"])
def test_a_window_is_clustered_with_its_stored_tone_and_weighted_vectors_when_every_message_has_one(inbox, column):
    finder = ThemeFinder(inbox.store, engine())
    given, find = [], finder.engine.find
    finder.engine.find = lambda texts, vectors, tone=None, weighted=None: (
        given.append({"tone": tone, "weighted": weighted}[column]) or find(texts, vectors, tone, weighted))
    until = T0 + timedelta(days=14)
    ids = [r["message_id"] for r in inbox.store.db.query("SELECT message_id FROM embeddings ORDER BY message_id")]
    stored = {mid: np.full(4, mid, dtype=np.float32) for mid in ids}
    for mid, vector in stored.items():
        inbox.store.db.execute(f"UPDATE embeddings SET {column} = ? WHERE message_id = ?", [vector.tobytes(), mid])
    finder.find(timedelta(days=7), until)
    window = [r["id"] for r in finder.messages(Window(until - timedelta(days=7), until))]
    assert given[-1] is not None and np.array_equal(given[-1], np.stack([stored[mid] for mid in window]))
    # one message of the window analysed before these vectors were stored: the window is clustered without them
    inbox.store.db.execute(f"UPDATE embeddings SET {column} = NULL WHERE message_id = ?", [window[0]])
    finder.find(timedelta(days=7), until)
    assert given[-1] is None
