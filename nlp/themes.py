"""Themes: group texts into recurring threads and name each one. Pure: vectors and texts in, clusters out.

The engine is deliberately simple so that it generalises without tuning to a data set:

1. agglomerative clustering (average linkage) of the L2-normalised embeddings with a cosine *distance
   threshold*, so the number of themes follows from the data instead of being chosen;
2. near-duplicate clusters (centroid cosine at or above ``merge_similarity``) are merged;
3. clusters smaller than ``min_size`` are not themes: their texts are *left out* (label -1), as are texts that
   fit no theme at all.

Labels come from keyphrases: 1- to 3-word n-grams that neither start nor end with a stop word (English, and
those of the message's language when ``nlp.language`` tells another: "Akku leer", not "Der Akku"), scored by how
many of the cluster's texts contain them against how common they are in every text (a class-based TF-IDF in
the spirit of BERTopic's c-TF-IDF; an amount of money such as "€22" counts as a word). The label is the best
phrase that texts share; a single word is joined to the next one as people join them ("cash withdrawal",
"verify my identity") or set beside it, and a word that only says when or how many, or one mostly used as a verb
("days", "ships"), heads no label when another can. It is shown with the casing people used ("Fern Scale battery
drain").

Everything is deterministic: the same texts, vectors and settings give the same clusters and labels.
:class:`Clusterer` is the one-method interface; :class:`AgglomerativeClusterer` is the real one and
:class:`ThresholdClusterer` a cheap greedy stand-in for unit tests.
"""

from __future__ import annotations

import functools
import math
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, TypeVar, runtime_checkable

import numpy as np

NOISE = -1

# A short English stop list: function words, chat filler and words every customer message has.
STOP_WORDS = frozenset("""
a about above after again against all almost also am an and any anyone anything are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
done down during each else even ever every few for from further get gets getting got had hasn't has have haven't
having he her here hers herself him himself his how i i'd i'll i'm i've if in into is isn't it it's its itself
just let let's like me more most much must my myself need needs no nor not now of off on once one only or other
our ours ourselves out over own please pls really same see she should shouldn't so some still such than thank
thanks that that's the their theirs them themselves then there there's these they they're this those though
through thx to too under until up us very was wasn't we we're we've were weren't what what's when where which
while who why will with won't would wouldn't yes yet you you're your yours yourself hi hello hey dear guys
team folks anyone someone something know think want wanted would could also again ok okay lol just any way
already since via per re fyi btw best regards cheers sent iphone android im ive dont cant doesnt didnt
least nothing everything everyone everybody nobody none thing things stuff lot lots bit kind sort
may might shall able unable go goes going gonna went
""".split())

# The same for the other languages the analysis tells (``nlp.language``): a message in one of them is read with
# its language's list as well as the English one (customers mix them: "Danke, the kettle works"). A word that is
# an English one too ("pour", "car", "hat") is a stop word only in a message told to be in that language.
STOP_WORDS_IN = {lang: frozenset(words.split()) for lang, words in {
    "de": """der die das den dem des ein eine einer eines einem einen und oder aber doch denn sondern weil dass ob
             wenn als wie wo was wer wen wem wann warum wieso weshalb welche welcher welches jede jeden jedem
             jeder jedes ich du er sie es wir ihr mich mir dich dir sich uns euch ihnen ihm ihn man mein meine
             meiner meinen meinem meines dein deine deinen sein seine seinen ihre ihren unser unsere unseren euer
             eure euren ist sind bin bist war waren wird werden wurde wurden hat habe haben hast hatte hatten kann
             können könnt könnte konnte muss müssen soll sollte will wollte möchte möchten würde wäre gibt geht
             nicht kein keine keinen nichts noch schon immer auch nur sehr mal jetzt hier da dort so ja nein bitte
             danke vielen dank gruß grüße liebe lieber liebes hallo guten tag abend mit von zu zum zur bei beim
             nach vor seit für auf aus an am im in ins um über unter durch gegen ohne bis etwas alles viel viele
             mehr gerne gern leider eigentlich einfach wieder denn dann also bereits endlich""",
    "es": """el la los las un una unos unas de del al a en con sin por para que qué y e o u pero como cómo cuando
             cuándo donde dónde quien quién cual cuál cuanto cuánto mi mis tu tus su sus nuestro nuestra nuestros
             vuestro vuestra yo tú él ella nosotros ustedes usted me te se le les lo nos os es son está están
             estoy estás era fue ha han he has hemos hay hace hacer tengo tiene tienen tenemos puede puedo puedes
             pueden podéis quiero quisiera muy más ya no sí si todavía aún también nada todo todos esto este esta
             estos eso ese esa hola gracias muchas buenas buenos días saludos favor alguien algo otra otro sigue
             siempre nunca bien mal aquí ahí allí solo""",
    "fr": """le la les un une des du de d' au aux et ou mais donc car ni je j' tu il elle on nous vous ils elles
             me m' te t' se s' l' n' c' qu' mon ma mes ton ta tes son sa ses notre nos votre vos leur leurs ce cet
             cette ces ça cela qui que quoi où quand comment pourquoi combien quel quelle est sont suis es êtes ai
             as a avons avez ont était été être avoir fait faire peut peux pouvez puis veux voudrais voulez ne pas
             plus toujours encore déjà très aussi bien tout tous toute toutes rien bonjour bonsoir salut merci svp
             plaît cordialement dans sur pour avec sans par chez en y ici là oui non si depuis jamais""",
    "pt": """o a os as um uma uns umas de do da dos das em no na nos nas ao aos à às por pelo pela para pra com
             sem e ou mas que quê se eu tu você vocês ele ela nós eles elas me te lhe meu minha meus minhas seu
             sua seus suas nosso nossa é são está estão estou foi era ser ter tem têm tenho temos há já ainda não
             sim muito muita mais também isso isto esse essa este esta tudo nada olá oi obrigado obrigada bom boa
             dia tarde noite favor posso pode podem quero queria gostaria saber como quando onde porque porquê
             qual quanto alguém algo sempre nunca aqui bem""",
    "it": """il lo la i gli le un uno una di del della dei delle degli da dal dalla in nel nella con su per tra
             fra e o ma che chi come dove quando perché quale quanto io tu lui lei noi voi loro mi ti si ci vi mio
             mia miei mie tuo tua suo sua nostro nostra è sono sei siamo era ho hai ha abbiamo hanno non più
             ancora già molto anche ciao grazie buongiorno buonasera salve per favore posso può vorrei l' d'
             c' un' nell' dell' all' sull' dall' nei negli nelle sui sulle agli alle ai col senza dopo prima ogni
             sempre mai poi ora adesso solo proprio davvero tutto tutti tutte niente nulla nessuno qualcuno qualche
             questo questa questi quello quella cosa fare fatto stato stata essere avere sto sta stanno siete avete
             buona buon cordiali saluti scusate scusa mille allora quindi però invece comunque purtroppo""",
    "nl": """de het een en of maar dat die dit deze als wat wie waar wanneer waarom hoe ik je jij u hij zij ze wij
             we jullie mij me mijn jouw uw zijn haar ons onze hun is ben bent was waren heb hebt heeft hebben had
             kan kunnen kun wil wilt zou zal niet geen nog al ook erg heel zeer wel hier daar er van voor met op
             in aan bij naar uit over door om tot hallo hoi bedankt dank graag alstublieft te zo ja nee nu
             weer even toch gewoon echt steeds sinds na geleden tegen zonder blijft blijven komt komen gaat gaan doet
             doen staat zit ligt krijg krijgt krijgen word wordt werd moet moeten kunt mag wilde iets niets niks
             nooit altijd meer veel dus nou eens alweer goedemorgen goedemiddag goedenavond groeten groetjes
             vriendelijke mvg dankjewel dankje""",
}.items()}

# words, numbers and amounts of money ("€22", "$3.90") in any alphabet ("todavía", "größe"): a price thread is
# named by its price. A French or Italian elision is a word of its own ("l'application" is "l'" and
# "application"), so that it is a stop word like the article it stands for.
_TOKEN = re.compile(r"(?<![^\W_])(?:qu|[cdjlmnst])'(?=[^\W\d_])|[€$£]?[^\W_](?:[^\W_]|['.+-])*[^\W_]|[€$£]?[^\W_]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def stop_words(text: str) -> frozenset[str]:
    """The words that begin or end no keyphrase of ``text``: the English ones, and those of its language."""
    from nlp.language import detect

    return STOP_WORDS | STOP_WORDS_IN.get(detect(text), frozenset())


@runtime_checkable
class Clusterer(Protocol):
    """Assigns each row of ``vectors`` (L2-normalised) a cluster number, or -1 for none."""

    def fit_predict(self, vectors: np.ndarray) -> np.ndarray: ...


@dataclass
class AgglomerativeClusterer:
    """Average-linkage agglomerative clustering, cut at a distance threshold.

    Inputs of at least ``smooth_from`` texts are prepared in two steps before clustering. First each vector is
    smoothed ``rounds`` times towards the mean of its ``neighbours`` nearest texts (a small diffusion on the
    k-nearest-neighbour graph): texts in a dense thread pull together. Then the distance between two texts blends
    the cosine of their smoothed vectors with how many of their ``shared_neighbours`` nearest (smoothed) texts
    they share, weighted ``shared_weight`` (shared-nearest-neighbour similarity, as in Jarvis-Patrick clustering):
    two texts in the same thread have the same neighbourhood even where the thread is spread out, so big
    threads split less. After the cut, each text of such an input moves to the cluster that wins the vote of its
    ``vote_neighbours`` nearest other texts (on the embeddings as they are), each weighted by its cosine to the power
    ``vote_power`` (see :meth:`vote`). Small inputs (a week of a small community) are clustered on the embeddings as
    they are, so that a thread of 3 texts is not averaged away, and are cut at ``distance_threshold`` instead.
    """

    distance_threshold: float = 0.55  # cosine distance on the embeddings as they are (small inputs)
    smoothed_threshold: float = 0.525  # blended distance (inputs of at least ``smooth_from`` texts)
    neighbours: int = 7
    rounds: int = 2
    shared_neighbours: int = 30
    shared_weight: float = 0.5
    smooth_from: int = 400
    vote_neighbours: int = 7
    vote_power: float = 4.0

    def smooth(self, vectors: np.ndarray, nearest: np.ndarray | None = None) -> np.ndarray:
        """``nearest``: each row's nearest rows (itself first), at least ``neighbours`` of them, when known."""
        n = len(vectors)
        k = self.neighbours
        if n < self.smooth_from or k <= 1 or self.rounds <= 0:
            return vectors
        nearest = (_nearest(vectors, k) if nearest is None else nearest)[:, :k]  # includes the text itself
        x = vectors
        for _ in range(self.rounds):
            x = _normalise(x[nearest].mean(axis=1))
        return x

    def vote(self, vectors: np.ndarray, labels: np.ndarray, nearest: np.ndarray | None = None) -> np.ndarray:
        """``labels`` with each text moved to the cluster that wins the vote of its ``vote_neighbours`` nearest other
        texts, each weighing its cosine to the text to the power ``vote_power`` (a close neighbour counts much more
        than a far one); the text itself does not vote, and a text stays where it is when its own cluster wins.
        Average linkage joins a text to a cluster by its mean distance to all of it, which can leave it with
        texts that are not its nearest; the vote gives it back to its neighbourhood. Chosen on texts that are not
        the Banking77 test split (bench/RESULTS.md, "Themes"). ``nearest``: each row's nearest rows (itself
        first), at least ``vote_neighbours + 1`` of them, when known."""
        n, k = len(vectors), min(self.vote_neighbours, len(vectors) - 1)
        if k < 1:
            return labels
        near = (_nearest(vectors, k + 1) if nearest is None else nearest)[:, :k + 1]
        own = near == np.arange(n)[:, None]
        own[~own.any(axis=1), -1] = True  # a duplicate text ranked above the text itself: leave out the farthest
        near = near[~own].reshape(n, k)
        weights = np.maximum(np.einsum("ij,ikj->ik", vectors, vectors[near]), 0.0) ** self.vote_power
        theirs = labels[near]
        # each neighbour's cluster gets the weights of all the neighbours in it; the first of the best wins
        votes = ((theirs[:, :, None] == theirs[:, None, :]) * weights[:, None, :]).sum(axis=2)
        winner = theirs[np.arange(n), np.argmax(votes, axis=1)]
        stays = votes.max(axis=1) <= np.where(theirs == labels[:, None], votes, 0.0).max(axis=1)
        return np.where(stays, labels, winner)

    def distances(self, x: np.ndarray) -> np.ndarray:
        """Condensed distances (scipy's ``pdist`` layout) between the smoothed rows ``x``: ``1 - ((1 - w) * cosine
        + w * shared)``, where ``shared`` is the share of their ``shared_neighbours`` nearest rows two rows have in
        common. Built a block of rows at a time: memory is the condensed matrix plus one block."""
        n = len(x)
        k = min(max(self.shared_neighbours, 1), n)
        w = self.shared_weight if k > 1 else 0.0
        nearest = _nearest(x, k)
        # neighbourhoods as a 0/1 sparse matrix; its product with its transpose counts the shared neighbours
        from scipy.sparse import csr_matrix

        hood = csr_matrix((np.ones(n * k, dtype=np.float64), nearest.ravel(), np.arange(0, n * k + 1, k)),
                          shape=(n, n))
        shared = (hood @ hood.T).tocsr()
        out = np.empty(n * (n - 1) // 2, dtype=np.float64)
        for start in range(0, n, _ROWS):
            stop = min(start + _ROWS, n)
            block = (1.0 - w) * (x[start:stop] @ x.T) + (w / k) * shared[start:stop].toarray()
            for i in range(start, stop):  # row i's distances to rows i+1.. in pdist order
                first = i * n - i * (i + 1) // 2
                out[first:first + n - i - 1] = 1.0 - block[i - start, i + 1:]
        return np.clip(out, 0.0, None, out=out)

    def fit_predict(self, vectors: np.ndarray) -> np.ndarray:
        n = len(vectors)
        if n < 2:
            return np.zeros(n, dtype=int)
        from scipy.cluster.hierarchy import fcluster, linkage

        x = np.asarray(vectors, dtype=np.float64)
        # scikit-learn's AgglomerativeClustering(linkage="average", distance_threshold=...) is this scipy tree with
        # every merge at a distance of at least the threshold undone (average linkage merges in increasing
        # distance); scipy alone spares loading scikit-learn (seconds) in every themes command
        if n < self.smooth_from:
            tree = linkage(x, method="average", metric="cosine")
            return fcluster(tree, np.nextafter(self.distance_threshold, -np.inf), criterion="distance") - 1
        nearest = _nearest(x, max(self.neighbours, self.vote_neighbours + 1, 1))  # for both: one search
        tree = linkage(self.distances(self.smooth(x, nearest)), method="average")
        return self.vote(x, fcluster(tree, np.nextafter(self.smoothed_threshold, -np.inf), criterion="distance") - 1,
                         nearest)


_ROWS = 1024  # rows of a similarity matrix held at once: memory stays linear in the number of texts
_Block = TypeVar("_Block")
_SIDE_BY_SIDE = threading.Lock()  # one set of side-by-side blocks at a time: BLAS's thread setting is per process


def _by_blocks(work: Callable[[int], _Block], n: int) -> list[_Block]:
    """``work(start)`` for each block of ``_ROWS`` of ``n`` rows, in order, a block per core (up to 4) at a time,
    each block's matrix product on one BLAS thread. Partitioning a block's rows runs on one core, so one block at
    a time left the others idle for much of it (assigning 46,000 texts to a 4,000-text sample: 1.65 s -> 1.15 s
    on 2 cores). Memory: a block (16-32 MB for 4,000 columns) per worker."""
    starts = range(0, n, _ROWS)
    workers = min(os.cpu_count() or 1, 4, len(starts))
    if workers <= 1:
        return [work(start) for start in starts]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with _SIDE_BY_SIDE, threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, starts))


def _nearest(x: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``x`` (L2-normalised), its ``k`` most similar rows (itself included), as :func:`nearest_rows`
    orders them; the similarities are computed a block of rows at a time."""
    return np.concatenate(_by_blocks(lambda start: nearest_rows(x[start:start + _ROWS] @ x.T, k), len(x)))


def nearest_rows(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of its ``k`` largest values, largest first, ties by column: exactly the first ``k`` of
    a stable ``argsort(-sims)``, found by partitioning (linear in a row) instead of sorting every row, and in a
    row much wider than ``k`` only among the columns :func:`_candidates` keeps."""
    if k >= sims.shape[1]:
        return np.argsort(-sims, axis=1, kind="stable")[:, :k]
    cols, groups_tied = _candidates(sims, k)
    vals = sims if cols is None else np.take_along_axis(sims, cols, axis=1)
    part = np.argpartition(-vals, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(vals, part, axis=1)
    if cols is not None:
        part = np.take_along_axis(cols, part, axis=1)
    nearest = np.take_along_axis(part, np.lexsort((part, -values), axis=1), axis=1)
    # a value equal to the k-th one among the columns not kept (duplicate texts): the tied columns go by column
    kth = values.min(axis=1)
    unsure = (vals >= kth[:, None]).sum(axis=1) > k
    if groups_tied is not None:
        unsure |= groups_tied
    if unsure.any():
        nearest[unsure] = _first_at_least(sims[unsure], kth[unsure], k)
    return nearest


def _first_at_least(sims: np.ndarray, kth: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns of each row's stable ``argsort(-row)``, given each row's ``k``-th largest value:
    only the values at least that large are sorted."""
    rows, cols = np.nonzero(sims >= kth[:, None])
    order = np.lexsort((cols, -sims[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, np.arange(len(sims)))[rows]
    return cols[rank < k].reshape(len(sims), k)


def _candidates(sims: np.ndarray, k: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per row, columns that hold its ``k`` largest values, about an eighth of a wide row (None when the row is not
    wide enough to gain), and per row whether that may miss a value tied with the ``k``-th.

    The columns are split into ``8 k`` strided groups. A row's ``k`` best groups (by their largest value) hold at
    least ``k`` values as large as the smallest of those maxima, so no other group holds a value above it: only
    the ``k`` best groups (and the columns past the last whole group) can hold the row's nearest. With the sort of
    tied rows in :func:`_first_at_least`, the neighbour search of a fresh 50,000-message digest went from 2.2 s
    to about 0.8 s."""
    n, m = sims.shape
    groups = 8 * k
    per = m // groups
    if per < 4:
        return None, None
    whole = groups * per
    head = sims[:, :whole].reshape(n, per, groups).max(axis=1)  # group g: columns g, g + groups, g + 2 groups...
    best = np.argpartition(head, groups - k, axis=1)[:, groups - k:]
    floor = np.take_along_axis(head, best, axis=1).min(axis=1, keepdims=True)
    cols = (best[:, :, None] + groups * np.arange(per)).reshape(n, -1)
    if whole < m:
        cols = np.concatenate([cols, np.broadcast_to(np.arange(whole, m), (n, m - whole))], axis=1)
    return cols, (head >= floor).sum(axis=1) > k


@dataclass
class ThresholdClusterer:
    """Greedy leader clustering: a text joins the first earlier leader within ``similarity``. Cheap, for tests."""

    similarity: float = 0.5

    def fit_predict(self, vectors: np.ndarray) -> np.ndarray:
        labels = np.full(len(vectors), NOISE, dtype=int)
        leaders: list[int] = []
        for i, v in enumerate(vectors):
            sims = [float(vectors[j] @ v) for j in leaders]
            if sims and max(sims) >= self.similarity:
                labels[i] = int(np.argmax(sims))
            else:
                leaders.append(i)
                labels[i] = len(leaders) - 1
        return labels


@dataclass
class Cluster:
    """One theme found in a set of texts: which texts (indexes), its centroid, keyphrases and label."""

    members: list[int]
    centroid: np.ndarray = field(repr=False)
    keyphrases: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass
class ThemeResult:
    assignment: np.ndarray  # per text: index into clusters, or -1 when left out
    clusters: list[Cluster]

    @property
    def left_out(self) -> int:
        return int(np.sum(self.assignment == NOISE))


@dataclass
class ThemeEngine:
    """Clusters + merge + minimum size + labels. Collaborators passed in (see ``bot.bootstrap``).

    A text stays in its theme only if another text of the theme is within ``assign_similarity`` (cosine) of it;
    otherwise it fits no theme and is left out.

    An input of at least ``tone_from`` texts given with tone vectors is clustered on them too, weighted
    ``tone_weight`` beside the embeddings, and one given with idf-weighted vectors on those in place of the
    embeddings (see :meth:`space`).

    Up to ``exact_up_to`` texts are clustered as a whole. Clustering costs memory and time quadratic in the
    number of texts, so a larger input is clustered through an evenly spaced sample of ``exact_up_to`` of its
    texts (every text when the input is smaller, so results below the cap do not change): the sample's themes
    are found exactly as above, then every other text joins the theme that wins the similarity-weighted vote of
    its ``assign_neighbours`` most similar sampled texts. A text is left out when that vote goes to the sampled
    texts that fit no theme, or when no sampled text of the winning theme is within ``assign_similarity``
    (cosine) of it. The sample is taken by position, so the same input always gives the same themes.
    """

    clusterer: Clusterer = field(default_factory=AgglomerativeClusterer)
    min_size: int = 3
    merge_similarity: float = 0.9
    exact_up_to: int = 4000
    assign_neighbours: int = 7
    assign_similarity: float = 0.45  # also the closeness a clustered text needs to another member
    tone_weight: float = 0.4
    tone_from: int = 400
    # whether idf-weighted vectors, when given, replace the embeddings (see :meth:`space`): in an input of at least
    # ``tone_from`` texts, as the tone vectors (they were chosen together, on inputs of 1,500-4,000 texts)
    idf_pooled: bool = True

    def find(self, texts: Sequence[str], vectors: np.ndarray, tone: np.ndarray | None = None,
             weighted: np.ndarray | None = None) -> ThemeResult:
        """``tone``: each text's tone vector (the pooled states of an earlier layer of the same model), and
        ``weighted``: its idf-weighted vector (the last layer's token states pooled with the inbox's idf weights),
        when the analysis has them (see :meth:`space`)."""
        texts = list(texts)
        vectors = _normalise(np.asarray(vectors, dtype=np.float32))
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        if tone is not None and len(tone) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(tone)} tone vectors")
        if weighted is not None and len(weighted) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(weighted)} idf-weighted vectors")
        sample = None
        if len(texts) > max(self.exact_up_to, 1):
            # evenly spaced by position (a window's texts are in time order): no seed, the same every time
            sample = np.arange(self.exact_up_to, dtype=np.int64) * len(texts) // self.exact_up_to
            groups = self._sampled_groups(vectors, tone, weighted, sample)
        else:
            groups = self._exact_groups(self.space(vectors, tone, weighted))
        # stable order: biggest first, then by first member, so numbering never depends on the clusterer's ids
        groups.sort(key=lambda g: (-len(g), g[0]))
        assignment = np.full(len(texts), NOISE, dtype=int)
        for k, members in enumerate(groups):
            assignment[members] = k
        clusters = clusters_of(vectors, assignment)
        if sample is None:
            label_clusters(texts, clusters)
        else:  # named from the sample's texts, as they were clustered: the cost stays that of the sample
            position = np.full(len(texts), -1, dtype=np.int64)
            position[sample] = np.arange(len(sample))
            named = [Cluster([int(j) for j in position[c.members] if j >= 0], c.centroid) for c in clusters]
            label_clusters([texts[i] for i in sample], named)
            for cluster, name in zip(clusters, named):
                cluster.keyphrases, cluster.label = name.keyphrases, name.label
        return ThemeResult(assignment, clusters)

    def space(self, vectors: np.ndarray, tone: np.ndarray | None, weighted: np.ndarray | None = None) -> np.ndarray:
        """What the texts are clustered on: their (L2-normalised) embeddings and, for an input of at least
        ``tone_from`` texts with tone vectors, those vectors too, centred on their mean, L2-normalised and
        weighted ``tone_weight``, side by side with the embeddings (768 numbers a text for MiniLM). The tone
        vectors come from an earlier layer of the same forward pass (``nlp.embeddings.TONE_LAYER``), which keeps
        more of the wording: it tells apart near intents that the last layer puts together ("my top-up failed"
        and "my top-up was reverted"). Centred, because their raw cosines are high for any two texts (about 0.65
        on average) and would loosen every cut. Chosen on texts that are not the Banking77 test split
        (bench/RESULTS.md, "Themes"); small inputs keep the embeddings alone, as they keep the plain cosine. A
        theme's centroid, and so its identity from one window to the next, is still of the embeddings.

        In such an input given with ``weighted`` vectors, those take the embeddings' place: the last layer's token
        states pooled with each token weighted by its idf over the inbox (``nlp.embeddings.TokenCounts``) rather
        than by the plain mean that makes the embedding. What every message of an inbox says ("my card", "?")
        counts for less than the words that tell its threads apart ("arrive", "declined", "PIN"). Chosen on texts
        that are not the Banking77 test split, where it gained 0.007-0.053 ARI on each of 13 sets
        (bench/RESULTS.md, "Themes")."""
        if self.reads_weighted(len(vectors), weighted):
            vectors = _normalise(np.asarray(weighted, dtype=np.float32))
        if not self.reads_tone(len(vectors), tone):
            return vectors
        tone = np.asarray(tone, dtype=np.float32)
        centred = _normalise(tone - tone.mean(axis=0, keepdims=True))
        return _normalise(np.hstack([vectors, np.float32(self.tone_weight) * centred]))

    def reads_tone(self, n: int, tone: np.ndarray | None) -> bool:
        """Whether an input of ``n`` texts with these tone vectors is clustered on them too (see :meth:`space`)."""
        return tone is not None and self.tone_weight > 0 and n >= max(self.tone_from, 2)

    def reads_weighted(self, n: int, weighted: np.ndarray | None) -> bool:
        """Whether an input of ``n`` texts with these idf-weighted vectors is clustered on them in place of its
        embeddings (see :meth:`space`)."""
        return weighted is not None and self.idf_pooled and n >= max(self.tone_from, 2)

    def rebuild(self, vectors: np.ndarray, assignment: np.ndarray, names: Sequence[dict]) -> ThemeResult:
        """What :meth:`find` gave for these vectors, from its assignment and each cluster's label and
        keyphrases (``{"label", "keyphrases"}``), without clustering again."""
        assignment = np.asarray(assignment, dtype=int)
        clusters = clusters_of(_normalise(np.asarray(vectors, dtype=np.float32)), assignment)
        if len(clusters) != len(names):
            raise ValueError(f"{len(clusters)} clusters in the assignment but {len(names)} names")
        for cluster, name in zip(clusters, names):
            cluster.label, cluster.keyphrases = name["label"], list(name["keyphrases"])
        return ThemeResult(assignment, clusters)

    def _exact_groups(self, vectors: np.ndarray) -> list[list[int]]:
        raw = self.clusterer.fit_predict(vectors) if len(vectors) else np.zeros(0, dtype=int)
        groups = _merge(_groups(raw), vectors, self.merge_similarity)
        groups = [_close_members(g, vectors, self.assign_similarity) for g in groups]
        return [g for g in groups if len(g) >= self.min_size]

    def _sampled_groups(self, vectors: np.ndarray, tone: np.ndarray | None, weighted: np.ndarray | None,
                        sample: np.ndarray) -> list[list[int]]:
        """The sample clustered as an input of its own (with its tone and idf-weighted vectors, see :meth:`space`),
        the rest assigned on the idf-weighted vectors when the sample was clustered on them, else on the
        embeddings: without the tone vectors, as good on sets that are not the Banking77 test split (ARI within
        0.002 either way on five, with samples of 700-2,000), at half the cost of the products of 46,000 texts
        with the sample; on the idf-weighted vectors rather than the embeddings, 0.002-0.009 ARI better on four
        (samples of 1,000 and 2,000)."""
        labels = np.full(len(vectors), NOISE, dtype=int)
        space = self.space(vectors[sample], None if tone is None else tone[sample],
                           None if weighted is None else weighted[sample])
        for k, members in enumerate(self._exact_groups(space)):
            labels[sample[members]] = k
        rest = np.setdiff1d(np.arange(len(vectors)), sample)
        x = _normalise(np.asarray(weighted, dtype=np.float32)) if self.reads_weighted(len(sample), weighted) else vectors
        labels[rest] = assign(x[rest], x[sample], labels[sample], self.assign_neighbours, self.assign_similarity)
        return _members(labels)


def clusters_of(vectors: np.ndarray, assignment: np.ndarray) -> list[Cluster]:
    """The (unnamed) clusters of an assignment: members in text order, centroid of their (L2-normalised) rows."""
    return [Cluster(g, _normalise(vectors[g].mean(axis=0, keepdims=True))[0]) for g in _members(assignment)]


def _members(labels: np.ndarray) -> list[list[int]]:
    """Per label 0, 1, ...: the indexes that have it, in order (one stable sort, not a pass per label)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(NOISE, int(labels.max(initial=NOISE)) + 2))
    return [order[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])][1:]  # [0]: the left-out ones


def assign(vectors: np.ndarray, reference: np.ndarray, labels: np.ndarray, neighbours: int = 7,
           similarity: float = 0.45) -> np.ndarray:
    """Per row of ``vectors``, the label (of ``labels``, one per ``reference`` row, -1 for none) that wins the
    similarity-weighted vote of its ``neighbours`` most similar reference rows; -1 when the vote goes to -1 or
    when no reference row with the winning label is within ``similarity``. Rows are L2-normalised; the
    similarities are computed a block of rows at a time (see :func:`_by_blocks`), so memory stays linear."""
    out = np.full(len(vectors), NOISE, dtype=int)
    if not len(vectors) or not len(reference):
        return out
    k = min(max(neighbours, 1), len(reference))

    def block(start: int) -> None:
        sims = vectors[start:start + _ROWS] @ reference.T
        near = np.argpartition(sims, -k, axis=1)[:, -k:]
        near_sims = np.take_along_axis(sims, near, axis=1)
        near_labels = labels[near]
        # each neighbour's label scores the similarities of all neighbours with that label; the best one wins
        same = near_labels[:, :, None] == near_labels[:, None, :]
        votes = (same * np.maximum(near_sims, 0.0)[:, None, :]).sum(axis=2)
        rows = np.arange(len(sims))
        winner = near_labels[rows, np.argmax(votes, axis=1)]
        closest = np.where(near_labels == winner[:, None], near_sims, -np.inf).max(axis=1)
        out[start:start + len(sims)] = np.where((winner != NOISE) & (closest >= similarity), winner, NOISE)

    _by_blocks(block, len(vectors))
    return out


def _close_members(members: list[int], vectors: np.ndarray, similarity: float) -> list[int]:
    """The members that have another member within cosine ``similarity``: the rule :func:`assign` applies to
    texts outside the sample, applied to the clustered texts too. Neighbourhood-based distances can pull an
    off-topic text into the theme its nearest texts belong to although none of them is close to it; it is left
    out instead (measured: random tweets mixed into Banking77, 63% left out instead of 1%)."""
    if len(members) < 2:
        return members
    sims = vectors[members] @ vectors[members].T
    np.fill_diagonal(sims, -np.inf)
    return [m for m, best in zip(members, sims.max(axis=1)) if best >= similarity]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    if vectors.size == 0:
        return vectors
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _groups(raw: np.ndarray) -> list[list[int]]:
    """A clusterer's groups (its ids may have gaps), in order of their first member."""
    return sorted((g for g in _members(raw) if g), key=lambda g: g[0])


def _merge(groups: list[list[int]], vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Merge clusters whose centroids are near-duplicates, most similar pair first, until none is."""
    if len(groups) < 2 or threshold >= 1.0:
        return groups
    groups = [list(g) for g in groups]
    sums = [vectors[g].sum(axis=0) for g in groups]
    while True:
        cents = _normalise(np.stack(sums))
        sims = cents @ cents.T
        np.fill_diagonal(sims, -1.0)
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[i, j] < threshold:
            return [sorted(g) for g in groups]
        i, j = min(i, j), max(i, j)
        groups[i] += groups.pop(j)
        sums[i] = sums[i] + sums.pop(j)
        if len(groups) < 2:
            return [sorted(g) for g in groups]


# -- labels ---------------------------------------------------------------------------------------------------
def _phrases(toks: list[str], stop: frozenset[str] = STOP_WORDS, max_n: int = 3) -> set[str]:
    """1- to ``max_n``-word n-grams of words of 2+ characters (or numbers) whose first and last words are not in
    ``stop`` and have a letter ("18 to 22", "3.90 shipping": numbers only inside a phrase). Each word is checked
    once, not once per n-gram it is in: this runs over every text of a window."""
    inner = [len(t) >= 2 or t.isdigit() for t in toks]
    # a token is made of letters, digits and ['.+-] after an optional currency sign (see ``tokens``): it has a
    # letter, or is an amount of money, when stripping digits and punctuation leaves something
    edge = [ok and t not in stop and bool(t.strip(_NOT_LETTERS)) for ok, t in zip(inner, toks)]
    out = set()
    for i, starts in enumerate(edge):
        if not starts:
            continue
        for j in range(i, min(i + max_n, len(toks))):
            if not inner[j]:
                break
            if edge[j]:
                out.add(" ".join(toks[i:j + 1]))
    return out


_NOT_LETTERS = "0123456789'.+-"


def keyphrases(texts: Sequence[str], clusters: Sequence[Cluster], top: int = 5) -> list[list[str]]:
    """Per cluster, its best phrases: the share of its texts that contain a phrase times the phrase's rarity
    in all texts; a longer phrase wins over a shorter one it contains when nearly as many texts use it."""
    return _keyphrases([_phrases(tokens(t), stop_words(t)) for t in texts], clusters, top)


def _keyphrases(docs: list[set[str]], clusters: Sequence[Cluster], top: int) -> list[list[str]]:
    df: Counter = Counter()
    for d in docs:
        df.update(d)
    n_docs = max(len(docs), 1)
    out = []
    for cluster in clusters:
        inside: Counter = Counter()
        for i in cluster.members:
            inside.update(docs[i])
        size = max(len(cluster.members), 1)
        scored = []
        for phrase, count in inside.items():
            share = count / size
            idf = math.log(1 + n_docs / df[phrase])
            n_words = phrase.count(" ") + 1
            scored.append((share * share * idf * (1 + 0.15 * (n_words - 1)), count, phrase))
        # phrases used by one text only come last: they only extend a one-word label
        scored.sort(key=lambda s: (s[1] < 2 and size > 2, -s[0], -s[1], s[2]))
        chosen: list[str] = []
        counts = {phrase: count for _, count, phrase in scored}
        for score, count, phrase in scored:
            padded = f" {phrase} "
            if any(padded in f" {c} " for c in chosen):
                continue  # part of a longer phrase already chosen
            shorter = [c for c in chosen if f" {c} " in padded]
            if shorter:
                # a longer phrase replaces the shorter ones it contains when about as many texts use it, and
                # never when only one text does ("shipping to Ireland" over the "shipping" of two texts)
                if (count >= 2 or size <= 2) and all(count * 2 >= counts[c] for c in shorter):
                    at = chosen.index(shorter[0])
                    chosen = [c for c in chosen if c not in shorter]
                    chosen.insert(min(at, len(chosen)), phrase)
                continue
            if len(chosen) < top:
                chosen.append(phrase)
            if len(chosen) == top and score < scored[0][0] * 0.3:
                break
        out.append(chosen)
    return out


def label_clusters(texts: Sequence[str], clusters: Sequence[Cluster]) -> None:
    """Fill ``keyphrases`` and ``label`` of each cluster in place. Every text is split into words once."""
    words = [tokens(t) for t in texts]
    docs = [_phrases(w, stop_words(t)) for w, t in zip(words, texts)]
    for cluster, phrases in zip(clusters, _keyphrases(docs, clusters, 5)):
        members = [texts[i] for i in cluster.members]
        toks = [words[i] for i in cluster.members]
        cluster.keyphrases = [display_form(p, members) for p in phrases]
        # only phrases that at least two texts (or a quarter of them) use may name the theme
        shared = [p for p in phrases if sum(_has(t, p) for t in toks) >= max(2, len(members) / 4)]
        parts = _label(shared, toks)
        # no phrase shared: the best one of a single text, one without a number or amount if there is one (an
        # amount or an order number of one message says nothing about the others)
        plain = [k for k in cluster.keyphrases if not any(ch.isdigit() for ch in k)]
        cluster.label = make_label([" ".join(display_form(p, members) for p in parts)] if parts
                                   else (plain or cluster.keyphrases)[:1])


# Words that say when or how many, or that any message could have: no theme is named by one of them alone
# ("Days", "Overnight"), though they may be part of a name people write ("Charged twice"); the days, weeks and
# times of day in the other languages told too ("Bestelling dagen" said no more than "Bestelling").
WEAK_WORDS = frozenset("""
day days week weeks month months year years hour hours minute minutes second seconds time times today tonight
tomorrow yesterday overnight morning mornings evening evenings night nights weekend ago soon later lately recently
long longer two three four five six seven eight nine ten twice first third last next new old several many few
help issue issues problem problems question questions message messages mind news
tag tage tagen woche wochen monat monate stunde stunden abend nacht heute gestern día días semana semanas meses
hora horas hoy ayer noche noches jour jours semaine semaines mois heure heures hier matin soir nuit dia dias mês
hoje ontem manhã noite giorno giorni settimana settimane mese mesi oggi ieri mattina sera notte stanotte dag dagen
weken maand maanden uur vandaag gisteren ochtend avond nacht
""".split())
# the word before a verb ("it ships", "never arrived", "to cancel") and the word before a noun ("my order"); not
# "have" or "do", which come before both. For the other languages, the negations and auxiliaries before a verb
# ("noch nicht angekommen", "ha llegado", "não chegou") and the articles and possessives before a noun.
_VERB_BEFORE = frozenset("""
i you we they he she it to will would can could should must may might don't doesn't didn't hasn't haven't hadn't
never not cannot can't won't wont isn't wasn't been be i've we've it's i'll we'll
nicht nie noch schon ist sind wurde wurden ha han he hemos todavía nunca ya pas jamais toujours não nunca já ainda
foi niet nog non si è ancora già mai wordt werd
""".split())
_NOUN_BEFORE = frozenset("""the a an my your our their his her its this that these those any no some every each of
der das dem den des ein eine einen einem meine mein meinen meiner unsere el los las del un una mi mis su sus le les
du une mon ma mes votre o os um uma meu minha meus minhas seu sua de het een mijn il la lo gli uno mio mia
miei mie tuo tua jouw""".split())
# the words that may join two keyphrases in a name: articles, possessives, prepositions, "is" ("Card was declined");
# not "can I" or "does it", which join a question's words ("long does it take")
_LINKS = _NOUN_BEFORE | frozenset("to for on in at by from with about and or is was isn't wasn't are".split())


def _label(phrases: Sequence[str], toks: Sequence[list[str]]) -> list[str]:
    """The theme's name as the phrases it is made of, from its shared keyphrases (best first) and its texts'
    words: the best phrase of several words as it is; a single word joined to the next phrase as people join
    them in the texts ("cash" and "withdrawal" -> "cash withdrawal", "verify" and "identity" -> "verify my
    identity"), else side by side, in the order people put them next to each other ("scale", "battery"); never
    two forms of one word ("payment payments"). A single word that only says when or how many or that is mostly
    used as a verb ("days", "ships") does not head a name when another phrase can. Empty for no phrases."""
    if not phrases:
        return []
    head = phrases[0]
    rest = [p for p in phrases[1:] if not _numbered(p)]  # no order numbers in a name; amounts may be
    if _numbered(head):  # one person's order number, shared by their messages, says nothing of the theme
        plain = " ".join(w for w in head.split() if not _numbered(w))
        return _label(rest, toks) if rest else [plain] if plain else []
    if " " in head:
        # "€18 → €22": the arrow is no word, and the two prices side by side read as a price change
        return [" to ".join(head.split())] if all(_amount(w) for w in head.split()) else [head]
    others = [p for p in rest if not same_word(head, p)]
    span = _joined(head, others, toks)
    if span:
        return [span]
    # an amount goes beside another ("€18 to €22", a price change); beside a word it names nothing
    # ("Subscribers €22")
    good = [p for p in others if (" " in p or not _weak(p, toks)) and _amount(p) == _amount(head)]
    if _weak(head, toks) and any(" " in p or not _weak(p, toks) for p in rest) and (
            head in WEAK_WORDS or not good or _together(head, good[0], toks) < 2 or _negated(head, toks)):
        # "days" or "ships" heads no name, though a verb may with the noun it is used with ("change details"),
        # unless what it says did not happen ("não chegou": "Chegou pedido" would say the order came)
        return _label(rest, toks)
    if not good:
        return [head]
    extra = good[0]
    if _amount(head):  # "€18 to €22", in the order people write the two prices
        first, then = (extra, head) if _before(extra, head, toks) > _before(head, extra, toks) else (head, extra)
        return [f"{first} to {then}"]
    # in the order people put them next to each other, if they ever do; else the better one first
    return [extra, head] if _adjacent(extra, head, toks) > _adjacent(head, extra, toks) else [head, extra]


_AMOUNT = re.compile(r"[€$£]\d[\d.,]*|\d[\d.,]*[€$£]")


def _amount(phrase: str) -> bool:
    return bool(_AMOUNT.fullmatch(phrase))


def _numbered(phrase: str) -> bool:
    """A phrase with a number that is not an amount: an order number, a date, a version ("fb-22862")."""
    return any(c.isdigit() for c in phrase) and not all(_amount(w) for w in phrase.split()
                                                        if any(c.isdigit() for c in w))


def _together(a: str, b: str, toks: Sequence[list[str]]) -> int:
    """How many texts have both phrases."""
    return sum(_has(t, a) and _has(t, b) for t in toks)


def _before(a: str, b: str, toks: Sequence[list[str]]) -> int:
    """How many texts have the word ``a`` somewhere before the word ``b``."""
    return sum(a in t and b in t and t.index(a) < t.index(b) for t in toks)


def _adjacent(a: str, b: str, toks: Sequence[list[str]]) -> int:
    """How many texts have phrase ``a`` right before phrase ``b``."""
    return sum(_has(t, f"{a} {b}") for t in toks)


def _joined(head: str, others: Sequence[str], toks: Sequence[list[str]]) -> str:
    """How people join ``head`` to the best of ``others`` that they join to it at all: the commonest run of words
    from one to the other, adjacent or through up to two linking words ("source of funds", "verify my identity"),
    in at least two texts and a tenth of them; up to five words. '' when none is."""
    for other in others:
        o = other.split()
        seen: Counter = Counter()
        for t in toks:
            spans = set()
            for i, w in enumerate(t):
                if w != head:
                    continue
                for gap in range(3):
                    if all(g in _LINKS for g in t[i + 1:i + 1 + gap]) and t[i + 1 + gap:i + 1 + gap + len(o)] == o:
                        spans.add(" ".join(t[i:i + 1 + gap + len(o)]))
                    start = i - gap - len(o)
                    if start >= 0 and all(g in _LINKS for g in t[i - gap:i]) and t[start:i - gap] == o:
                        spans.add(" ".join(t[start:i + 1]))
            seen.update(spans)
        best = sorted(seen.items(), key=lambda kv: (-kv[1], kv[0].count(" "), kv[0]))
        if best and best[0][1] >= max(2, len(toks) / 10) and best[0][0].count(" ") < 5:
            return best[0][0]
    return ""


def _weak(word: str, toks: Sequence[list[str]]) -> bool:
    """A word that says too little alone: a time or quantity word, a past participle, or one the texts mostly use
    as a verb (the word before it is a pronoun, auxiliary or "to" more often than an article or possessive)."""
    if word in WEAK_WORDS or _participle(word):
        return True
    verb = noun = 0
    for t in toks:
        for before, w in zip(t, t[1:]):
            if w == word:
                verb += before in _VERB_BEFORE
                noun += before in _NOUN_BEFORE
    return verb >= 2 and verb > noun


# "not" in the languages the analysis tells (not Spanish "no", which is also English's "no refund")
_NEGATIONS = frozenset("not never nicht nie não nunca pas jamais niet non".split())


def _negated(word: str, toks: Sequence[list[str]]) -> bool:
    """Whether the texts mostly say ``word`` after "not" ("not arrived", "noch nicht angekommen")."""
    after = [before in _NEGATIONS for t in toks for before, w in zip(t, t[1:]) if w == word]
    return len(after) >= 2 and sum(after) * 2 > len(after)


def _participle(word: str) -> bool:
    """A word that says something happened ("arrived", "packed", "charged"): it names a theme with another word
    ("Charged twice"), never beside a second one ("Packed arrived")."""
    return len(word) >= 5 and word.endswith("ed") and not word.endswith("eed")


def same_word(a: str, b: str) -> bool:
    """Two forms of one word ("payment" and "payments", "top-up" and "top"): naming a theme by both says nothing
    more."""
    for x in a.replace("-", " ").split():
        for y in b.replace("-", " ").split():
            common = len(os.path.commonprefix([x, y]))
            if common >= 3 and common >= min(len(x), len(y)) - 2:
                return True
    return False


def _has(toks: list[str], phrase: str) -> bool:
    """Whether the words ``toks`` hold ``phrase`` (words joined by single spaces), as whole words."""
    return f" {phrase} " in f" {' '.join(toks)} "


def distinct_label(label: str, keyphrases: Sequence[str], taken: set[str], noun: str = "") -> str:
    """``label``, or, when another theme already has it (``taken``: lower-cased labels), the label extended by
    what tells the two apart: a one-word keyphrase ("Brew Jam" -> "Brew Jam London"), else ``noun``, what its
    people do ("Fern Scale" -> "Fern Scale praise"), else the words of a longer keyphrase ("Bean Club" -> "Bean
    Club price"), up to 5 words; never a fragment with an article or a preposition ("Fern Scale Love the new");
    the label and a number when none does. Two threads under one name read as one in a digest."""
    if label.lower() not in taken:
        return label
    words = label.split()
    known = {w.lower() for w in words}

    def extra(phrase: str) -> list[str]:
        new = [w for w in phrase.split() if w.lower() not in known and not any(c.isdigit() for c in w)]
        return [] if any(w.lower() in _LINKS or w.lower() in WEAK_WORDS for w in new) else new

    one_word = [extra(p) for p in keyphrases if " " not in p]
    longer = [extra(p) for p in keyphrases if " " in p]
    named = [[noun]] if noun and not any(same_word(w.lower(), noun) for w in words) else []
    for new in one_word + named + longer:
        candidate = " ".join(words + new)
        if new and len(words) + len(new) <= 5 and candidate.lower() not in taken:
            return candidate
    number = 2
    while f"{label} {number}".lower() in taken:
        number += 1
    return f"{label} {number}"


def make_label(phrases: Sequence[str]) -> str:
    """Up to 5 words from the best keyphrases (see :func:`_label` for how they are chosen): the best one,
    extended by the next while it is one word, capitalised."""
    if not phrases:
        return "Other messages"
    words = phrases[0].split()
    for extra in phrases[1:]:
        if len(words) >= 2:
            break
        new = [w for w in extra.split() if w.lower() not in {x.lower() for x in words}]
        if new and len(words) + len(new) <= 5:
            words += new
    # a name, not a sentence: "Kettle temperature", not "Kettle's temperature"
    label = " ".join(re.sub(r"['\u2019]s$", "", w) if i < len(words[:5]) - 1 else w for i, w in enumerate(words[:5]))
    return label[:1].upper() + label[1:]


def display_form(phrase: str, texts: Sequence[str]) -> str:
    """The phrase as people wrote it most often ("fern scale" -> "Fern Scale"), else lower case."""
    pattern, words = _phrase_pattern(phrase), phrase.split()
    forms = Counter()
    for t in texts:
        t = t.replace("’", "'")
        if t.isascii():  # then a match needs every word in the lower-cased text: skip the regex when one is missing
            low = t.lower()
            if not all(w in low for w in words):
                continue
        for m in pattern.finditer(t):
            forms[re.sub(r"\s+", " ", m.group(0))] += 1
    if not forms:
        return phrase
    return sorted(forms.items(), key=lambda kv: (-kv[1], kv[0] != phrase, kv[0]))[0][0]


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern:
    """Compiled once per phrase: a window's clusters share many phrases (and re's own cache holds 512)."""
    return re.compile(r"(?<![\w])" + r"[\s]+".join(re.escape(w) for w in phrase.split()) + r"(?![\w])",
                      re.IGNORECASE)
