"""Where a callback may go: the allowlist and the addresses, checked before any connection."""

from __future__ import annotations

import pytest

from pipeline.errors import TransientError
from workers.callbacks import CallbackRefused, address_allowed, allowed_target, host_allowed

HOSTS = ["upload.example.edu.cn", ".portal.example.cn"]


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [])
    return resolve


PUBLIC = resolver({"upload.example.edu.cn": ["93.184.215.14"], "a.portal.example.cn": ["1.1.1.1"]})


def test_an_allowed_host_on_a_public_address_is_the_target_with_its_checked_address():
    target = allowed_target("https://upload.example.edu.cn/hooks/verdict?x=1", HOSTS, [], PUBLIC)
    assert (target.scheme, target.host, target.port, target.path) == ("https", "upload.example.edu.cn", 443, "/hooks/verdict?x=1")
    assert target.address == "93.184.215.14"
    assert allowed_target("http://a.portal.example.cn:8080/v", HOSTS, [], PUBLIC).port == 8080


@pytest.mark.parametrize("host,allowed", [("upload.example.edu.cn", True), ("UPLOAD.example.edu.cn.", True),
                                          ("a.portal.example.cn", True), ("portal.example.cn", False),
                                          ("upload.example.edu.cn.evil.com", False), ("evilupload.example.edu.cn", False)])
def test_hosts_are_matched_exactly_or_under_a_dotted_entry(host, allowed):
    assert host_allowed(host, HOSTS) is allowed


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1",
                                     "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::"])
def test_loopback_private_link_local_and_reserved_addresses_are_refused(address):
    assert not address_allowed(address, [])


def test_a_network_in_the_settings_lets_its_addresses_in():
    assert address_allowed("10.0.0.5", ["10.0.0.0/8"]) and address_allowed("::ffff:10.0.0.5", ["10.0.0.0/8"])
    assert not address_allowed("10.1.0.5", ["10.0.0.0/16"])
    assert address_allowed("8.8.8.8", [])


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:6379/",                      # our Redis
    "http://169.254.169.254/latest/meta-data/",    # a cloud's metadata service
    "http://evil.example.com/",                    # not the upload service
    "http://upload.example.edu.cn@127.0.0.1/",     # user info: the host is 127.0.0.1
    "ftp://upload.example.edu.cn/",
    "file:///etc/passwd",
    "http:///nohost",
])
def test_urls_outside_the_allowlist_are_refused(url):
    with pytest.raises(CallbackRefused):
        allowed_target(url, HOSTS, [], PUBLIC)


def test_an_allowed_name_resolving_to_a_private_address_is_refused_even_if_one_answer_is_public():
    rebinding = resolver({"upload.example.edu.cn": ["8.8.8.8", "10.0.0.7"]})
    with pytest.raises(CallbackRefused, match="10.0.0.7"):
        allowed_target("http://upload.example.edu.cn/", HOSTS, [], rebinding)
    assert allowed_target("http://upload.example.edu.cn/", HOSTS, ["10.0.0.0/8"], rebinding).address in ("8.8.8.8", "10.0.0.7")


def test_nothing_is_allowed_by_default_and_a_name_that_does_not_resolve_is_retried():
    with pytest.raises(CallbackRefused):
        allowed_target("https://upload.example.edu.cn/", [], [], PUBLIC)
    with pytest.raises(TransientError):
        allowed_target("https://upload.example.edu.cn/", HOSTS, [], resolver({}))
