// The image files `cnnengine predict` reads (engine/image_file.h) and how
// they become a network's input (engine/image_resize.h), against what PIL
// makes of the same files (tools/make_image_fixtures.py); damaged files of
// every kind are one clear error.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <regex>

#include "engine/error.h"
#include "engine/image_file.h"
#include "engine/image_resize.h"
#include "engine/safetensors.h"
#include "engine/zip_archive.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

const char* const kFixtures[] = {"rgb8.png",
                                 "rgba8.png",
                                 "gray8.png",
                                 "gray_alpha8.png",
                                 "gray1.png",
                                 "palette8.png",
                                 "palette4.png",
                                 "gray16.png",
                                 "rgb8.ppm",
                                 "gray8.pgm",
                                 "big.png",
                                 "rgb8_interlaced.png",
                                 "gray2_interlaced.png",
                                 "palette4_interlaced.png",
                                 "tiny_interlaced.png"};

std::string images_dir() {
  return fixtures_dir() + "/images";
}

std::string stem(const std::string& name) {
  std::string s = name;
  s[s.find('.')] = '_';
  return s;
}

std::vector<uint8_t> expected(const Safetensors& file, const std::string& name) {
  const SafetensorsTensor* t = file.find(name);
  if (!t) ADD_FAILURE() << "fixture lacks " << name;
  return t ? t->bytes : std::vector<uint8_t>{};
}

// The worst |a - b| and how many elements differ at all.
std::pair<int, int64_t> difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int worst = 0;
  int64_t differ = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const int d = std::abs(int(a[i]) - int(b[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  return {a.size() == b.size() ? worst : 999, differ};
}

TEST(ImageFile, DecodesEveryColourTypeAsPilDoes) {
  const Safetensors want = load_safetensors(images_dir() + "/expected.safetensors");
  for (const char* name : kFixtures) {
    const DecodedImage image = read_image_file(images_dir() + "/" + name);
    const SafetensorsTensor* t = want.find(stem(name) + ".decoded");
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(image.height, t->shape[0]) << name;
    EXPECT_EQ(image.width, t->shape[1]) << name;
    EXPECT_EQ(image.channels, t->shape[2]) << name;
    EXPECT_TRUE(image.pixels == t->bytes) << name << ": pixels differ from PIL's";
  }
}

// convert("RGB"/"L").resize(..., BILINEAR), PIL's 8-bit fixed point
// replayed: the same pixels, bit for bit, shrinking and growing.
TEST(ImageFile, BecomesTheNetworkInputPilAndTorchvisionWouldGive) {
  const Safetensors want = load_safetensors(images_dir() + "/expected.safetensors");
  for (const char* name : kFixtures) {
    const DecodedImage image = read_image_file(images_dir() + "/" + name);
    const auto [rgb_worst, rgb_differ] =
        difference(to_network_input(image, 3, 32, 32), expected(want, stem(name) + ".rgb32"));
    EXPECT_EQ(rgb_worst, 0) << name;
    EXPECT_EQ(rgb_differ, 0) << name;
    const auto [gray_worst, gray_differ] =
        difference(to_network_input(image, 1, 28, 28), expected(want, stem(name) + ".gray28"));
    EXPECT_EQ(gray_worst, 0) << name;
    EXPECT_EQ(gray_differ, 0) << name;
  }
}

TEST(ImageFile, SameSizeIsCopiedAndFlatStaysFlat) {
  DecodedImage image;
  image.height = image.width = 32;
  image.channels = 3;
  for (int i = 0; i < 32 * 32 * 3; ++i) image.pixels.push_back(static_cast<uint8_t>(i * 7));
  const std::vector<uint8_t> planar = to_network_input(image, 3, 32, 32);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 32 * 32; ++i)
      ASSERT_EQ(planar[static_cast<size_t>(c * 1024 + i)],
                image.pixels[static_cast<size_t>(i * 3 + c)]);
  image.height = 7;
  image.width = 300;
  image.pixels.assign(7 * 300 * 3, 77);
  for (uint8_t v : to_network_input(image, 3, 32, 32)) ASSERT_EQ(v, 77);
}

// ---- damaged and hostile files

std::vector<uint8_t> be32(uint32_t v) {
  return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
}

void chunk(std::vector<uint8_t>& png, const std::string& type, const std::vector<uint8_t>& data) {
  const std::vector<uint8_t> length = be32(static_cast<uint32_t>(data.size()));
  png.insert(png.end(), length.begin(), length.end());
  std::vector<uint8_t> typed(type.begin(), type.end());
  typed.insert(typed.end(), data.begin(), data.end());
  png.insert(png.end(), typed.begin(), typed.end());
  const std::vector<uint8_t> crc = be32(zip_crc32(typed));
  png.insert(png.end(), crc.begin(), crc.end());
}

// A PNG built by hand: IHDR of (w, h, depth, type, interlace), the raw rows
// deflated, IEND.
std::vector<uint8_t> make_png(uint32_t w, uint32_t h, uint8_t depth, uint8_t type,
                              const std::vector<uint8_t>& rows, uint8_t interlace = 0,
                              const std::vector<std::vector<uint8_t>>& extra = {}) {
  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr = be32(w);
  const std::vector<uint8_t> hh = be32(h);
  ihdr.insert(ihdr.end(), hh.begin(), hh.end());
  ihdr.insert(ihdr.end(), {depth, type, 0, 0, interlace});
  chunk(png, "IHDR", ihdr);
  for (const auto& e : extra)
    chunk(png, std::string(e.begin(), e.begin() + 4), {e.begin() + 4, e.end()});
  uLongf size = compressBound(rows.size());
  std::vector<uint8_t> z(size);
  compress(z.data(), &size, rows.data(), rows.size());
  z.resize(size);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    decode_image(bytes, "x.png");
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ImageFile, HandBuiltPngsDecodeAndEveryFilterIsUndone) {
  // 3 x 2 RGB, rows with filters 1 (sub) and 4 (Paeth) over known pixels.
  const std::vector<uint8_t> rows{1, 10, 20, 30, 5, 5, 5, 5, 5, 5,   // row 0: sub
                                  4, 1,  1,  1,  2, 2, 2, 3, 3, 3};  // row 1: Paeth
  const DecodedImage image = decode_image(make_png(3, 2, 8, 2, rows), "x.png");
  const std::vector<uint8_t> want{10, 20, 30, 15, 25, 35, 20, 30, 40,   // a + running sums
                                  11, 21, 31, 17, 27, 37, 23, 33, 43};  // Paeth picks up, then up
  EXPECT_EQ(image.pixels, want);
  // Filters 3 (average) and 2 (up) on 2 x 3 gray.
  const DecodedImage avg =
      decode_image(make_png(2, 3, 8, 0, {3, 10, 4, 3, 2, 2, 2, 1, 1}), "x.png");
  EXPECT_EQ(avg.pixels, (std::vector<uint8_t>{10, 9, 7, 10, 8, 11}));
  // 2-bit gray: sub-byte depths unpack the high bits first, stretched to 0..255.
  const DecodedImage gray = decode_image(make_png(4, 1, 2, 0, {0, 0b00011011}), "x.png");
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{0, 85, 170, 255}));
}

// Adam7 by hand: 3 x 3 gray, each pass's rows (filter 0) in pass order; passes
// 2 and 3 lie outside so small an image and are absent, filter bytes too.
TEST(ImageFile, InterlacedPngsPlaceEachPassesPixels) {
  const std::vector<uint8_t> passes{0, 1,         // pass 1: (0, 0)
                                    0, 2,         // pass 4: (2, 0)
                                    0, 3, 4,      // pass 5: (0, 2), (2, 2)
                                    0, 5, 0, 6,   // pass 6: (1, 0) and (1, 2), a row each
                                    0, 7, 8, 9};  // pass 7: row 1
  const DecodedImage image = decode_image(make_png(3, 3, 8, 0, passes, 1), "x.png");
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{1, 5, 2, 7, 8, 9, 3, 6, 4}));
  // The same bytes as one non-interlaced image would be three rows of 4 and
  // three bytes too many: the size check tells the two layouts apart.
  EXPECT_NE(error_of(make_png(3, 3, 8, 0, {0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9}, 1))
                .find("inflates to 12 bytes, expected 15"),
            std::string::npos);
}

TEST(ImageFile, DamagedPngsAreOneClearError) {
  const std::vector<uint8_t> rows{0, 1, 2, 3, 0, 4, 5, 6};  // 1 x 2 RGB
  const std::vector<uint8_t> good = make_png(1, 2, 8, 2, rows);
  ASSERT_EQ(error_of(good), "no error");
  std::vector<uint8_t> crc = good;
  crc[20] ^= 1;  // inside IHDR's data
  EXPECT_NE(error_of(crc).find("fails its CRC"), std::string::npos) << error_of(crc);
  for (size_t cut = 0; cut < good.size(); ++cut) {  // never a crash, always a DataError
    const std::vector<uint8_t> part(good.begin(), good.begin() + static_cast<long>(cut));
    EXPECT_NE(error_of(part), "no error") << cut;
  }
  EXPECT_NE(error_of(make_png(1, 2, 8, 2, {0, 1, 2, 3, 7, 4, 5, 6})).find("filter type 7"),
            std::string::npos);
  EXPECT_NE(error_of(make_png(1, 2, 8, 2, {0, 1, 2, 3})).find("inflates to 4 bytes, expected 8"),
            std::string::npos);
  // 1 x 2: pass 1 holds pixel (0, 0) and pass 7 pixel (0, 1), the rows of the plain layout.
  EXPECT_EQ(decode_image(make_png(1, 2, 8, 2, rows, 1), "x.png").pixels,
            decode_image(good, "x.png").pixels);
  EXPECT_NE(error_of(make_png(1, 2, 8, 2, rows, 2)).find("interlace method 2"), std::string::npos);
  EXPECT_NE(error_of(make_png(1, 2, 16, 3, rows)).find("bit depth 16 is not allowed"),
            std::string::npos);
  EXPECT_NE(error_of(make_png(1, 2, 8, 5, rows)).find("colour type 5"), std::string::npos);
  // 8192 x 8192 RGBA claimed by a few bytes of data: refused before the 512 MiB are taken.
  EXPECT_NE(error_of(make_png(8192, 8192, 8, 6, rows)).find("cannot hold"), std::string::npos);
  EXPECT_NE(error_of(make_png(70000, 1000, 8, 0, rows)).find("expected 1 to"), std::string::npos);
  // A palette image whose index has no entry; one without a palette.
  const std::vector<uint8_t> plte{'P', 'L', 'T', 'E', 1, 2, 3};
  EXPECT_NE(error_of(make_png(1, 1, 8, 3, {0, 5}, 0, {plte})).find("palette entry 5 of 1"),
            std::string::npos);
  EXPECT_NE(error_of(make_png(1, 1, 8, 3, {0, 0})).find("no PLTE"), std::string::npos);
  const std::vector<uint8_t> critical{'Z', 'Z', 'Z', 'Z'};
  EXPECT_NE(error_of(make_png(1, 2, 8, 2, rows, 0, {critical})).find("critical chunk 'ZZZZ'"),
            std::string::npos);
  const std::vector<uint8_t> ancillary{'z', 'Z', 'Z', 'Z', 9, 9};  // skipped, as the standard says
  EXPECT_EQ(error_of(make_png(1, 2, 8, 2, rows, 0, {ancillary})), "no error");
  const std::string text = "GIF89a....";
  EXPECT_NE(error_of({text.begin(), text.end()}).find("not an image cnnengine reads"),
            std::string::npos);
}

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

TEST(ImageFile, NetpbmHeadersAndDepths) {
  const DecodedImage ppm =
      decode_image(bytes_of("P6 # made by hand\n2 1\n255\n\x01\x02\x03\x04\x05\x06"), "x.ppm");
  EXPECT_EQ(ppm.pixels, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ppm.channels, 3);
  // maxval 1000 in 2 bytes, big-endian, scaled to 0..255 rounded.
  const DecodedImage pgm =
      decode_image(bytes_of(std::string("P5\n2 1\n1000\n\x03\xe8\x01\xf4", 16)), "x.pgm");
  EXPECT_EQ(pgm.pixels, (std::vector<uint8_t>{255, 128}));
  EXPECT_NE(error_of(bytes_of("P6\n2 1\n255\n\x01\x02")).find("expected 6"), std::string::npos);
  EXPECT_NE(error_of(bytes_of("P5\n1 1\n10\n\x0b")).find("above the maximum value 10"),
            std::string::npos);
  EXPECT_NE(error_of(bytes_of("P5\nx 1\n10\n")).find("expected the width"), std::string::npos);
  EXPECT_NE(error_of(bytes_of("P5\n1 1\n70000\n")).find("maximum value 70000"), std::string::npos);
  EXPECT_NE(error_of(bytes_of("P3\n1 1\n255\n1 2 3")).find("not an image cnnengine reads"),
            std::string::npos);
}

// ---- the command

TEST(Predict, ClassifiesImagesWithTheTopClasses) {
  TempDir data, out;
  make_small_cifar(data, 8, 10);
  const std::string ckpt = out.file("w.safetensors");
  ASSERT_EQ(run_cli("train --device cpu --epochs 1 --no-eval --data " + data.path().string() +
                    " --out " + ckpt)
                .exit_code,
            0);
  const std::string rgb = images_dir() + "/rgb8.png", gray = images_dir() + "/gray8.pgm";
  const RunResult r =
      run_cli("predict --device cpu --top 2 --checkpoint " + ckpt + " " + rgb + " " + gray);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::regex line(
      ": (plane|car|bird|cat|deer|dog|frog|horse|ship|truck) [0-9.]+%, "
      "(plane|car|bird|cat|deer|dog|frog|horse|ship|truck) [0-9.]+%\n");
  for (const std::string& file : {rgb, gray}) {
    const size_t at = r.out.find(file + ": ");
    ASSERT_NE(at, std::string::npos) << r.out;
    const std::string rest = r.out.substr(at + file.size());
    EXPECT_TRUE(std::regex_search(rest, line)) << rest;
  }
  // The same image twice gives the same line; --top 1 keeps the first class.
  const RunResult one = run_cli("predict --device cpu --top 1 --checkpoint " + ckpt + " " + rgb);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::string first = r.out.substr(r.out.find(rgb + ": "));
  EXPECT_NE(one.out.find(first.substr(0, first.find(','))), std::string::npos) << one.out;

  const RunResult none = run_cli("predict --checkpoint " + ckpt);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("predict needs at least one IMAGE file"), std::string::npos);
  write_text(out.file("bad.png"), "not an image");
  const RunResult bad =
      run_cli("predict --device cpu --checkpoint " + ckpt + " " + out.file("bad.png"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.png: not an image cnnengine reads"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

}  // namespace
}  // namespace cnne::test
