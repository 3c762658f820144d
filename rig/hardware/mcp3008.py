"""gpiozero's MCP3008, with its constant command made once.

gpiozero works out the three words that ask the chip for a channel on every read
(``_int_to_words``: a logarithm, a range, a list) and joins the answer's words with a
generator and ``functools.reduce`` (``_words_to_int``). On the live path that is most of
reading a force: about 40,000 instructions a sample on a transfer-level SPI, three times
what replaying the sample costs (issue 12, bench/live_parts.py). ``MCP3008`` here asks
the same question with the same words, computed by gpiozero once when the channel opens,
and joins the same two answer words with one shift: the same transfer on the wire, the
same ``value`` (tests/test_mcp3008.py compares every channel and both modes, words sent
and values read, with gpiozero's own class).
"""

from __future__ import annotations

from gpiozero import MCP3008 as GpiozeroMCP3008

__all__ = ["MCP3008"]


class MCP3008(GpiozeroMCP3008):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the channel and the mode are fixed when it opens: so is what is sent to read it
        self._command = list(super()._send())
        self._word_bits = self._spi.bits_per_word
        self._code_mask = (1 << self.bits) - 1

    def _send(self):
        return list(self._command)

    def _read(self):
        # gpiozero's: self._words_to_int(self._spi.transfer(self._send())[-2:], self.bits)
        answer = self._spi.transfer(list(self._command))
        return ((answer[-2] << self._word_bits) | answer[-1]) & self._code_mask
