"""The array-backed hash table of the snippet this project grew from (shared/seed), kept as it
was written, to measure what it costs beside a dict and an idx index. Two changes, both the
snippet's own advice: the type code is 'I' (4-byte items; 'L' is 8 bytes on Linux), and the
indentation its text copy lost is restored.

    "To be able to actually store keys and values at 4 bytes each you would have to implement a
    custom hash table that allocates an array.array of 32-bit integers for both keys and values.
    Since IDs are typically never going to be 0 or 2**32-1, you can use them as sentinels for an
    empty slot and a deleted slot, respectively."
"""

from array import array


class HashTable:
    EMPTY = 0
    DELETED = (1 << 32) - 1

    def __init__(self, source=None, size=8, load_factor_threshold=0.75):
        self._size = size
        self._load_factor_threshold = load_factor_threshold
        self._count = 0
        self._keys = array("I", [self.EMPTY]) * size
        self._values = array("I", [self.EMPTY]) * size
        if source is not None:
            self.update(source)

    def _probe(self, key):
        index = hash(key) % self._size
        for _ in range(self._size):
            yield index, self._keys[index], self._values[index]
            index = (index + 1) % self._size

    def __setitem__(self, key, value):
        while self._count >= self._load_factor_threshold * self._size:
            new = HashTable(self, self._size * 2, self._load_factor_threshold)
            self._size = new._size
            self._keys = new._keys
            self._values = new._values
        for index, probed_key, probed_value in self._probe(key):
            if probed_value == self.DELETED:
                continue
            if probed_value == self.EMPTY:
                self._keys[index] = key
                self._values[index] = value
                self._count += 1
                return
            elif probed_key == key:
                self._values[index] = value
                return

    def __getitem__(self, key):
        for _, probed_key, value in self._probe(key):
            if value == self.EMPTY:
                break
            if value == self.DELETED:
                continue
            if probed_key == key:
                return value
        raise KeyError(key)

    def items(self):
        for key, value in zip(self._keys, self._values):
            if value not in (self.EMPTY, self.DELETED):
                yield key, value

    def __len__(self):
        return self._count

    def update(self, other):
        for key, value in other.items():
            self[key] = value
