#include "cluster/lease_keys.hpp"

namespace relay::cluster {

namespace {
std::string shard_tag(unsigned shard, unsigned count) {
  return "{shard:" + std::to_string(shard) + "/" + std::to_string(count) + "}";
}
}  // namespace

std::string LeaseKeys::lease(unsigned shard, unsigned count) const {
  return prefix + shard_tag(shard, count) + ":lease";
}

std::string LeaseKeys::fence(unsigned shard, unsigned count) const {
  return prefix + shard_tag(shard, count) + ":fence";
}

std::string LeaseKeys::position(unsigned shard, unsigned count) const {
  return prefix + shard_tag(shard, count) + ":position";
}

std::string LeaseKeys::identify_bucket(unsigned shard, unsigned max_concurrency) const {
  return prefix + "identify:" + std::to_string(max_concurrency == 0 ? 0 : shard % max_concurrency);
}

std::string LeaseKeys::quota() const {
  return prefix + "identify:quota";
}

std::string LeaseKeys::seen(std::string_view event_id) const {
  return prefix + "seen:" + std::string(event_id);
}

std::string LeaseKeys::nodes() const {
  return prefix + "nodes";
}

}  // namespace relay::cluster
