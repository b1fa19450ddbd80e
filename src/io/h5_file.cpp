#include "h5_file.h"

#include <algorithm>

#include "../core/errors.h"
#include "h5_header_check.h"
#include "h5_strings.h"

namespace cellshard {
namespace h5 {

// --- types ----------------------------------------------------------------------

TypeInfo describe_type(hid_t type) {
  TypeInfo t;
  t.type_class = H5Tget_class(type);
  t.size = H5Tget_size(type);
  if (t.type_class == H5T_INTEGER) {
    t.is_signed = H5Tget_sign(type) == H5T_SGN_2;
  } else if (t.type_class == H5T_ENUM) {
    Handle base(H5Tget_super(type));
    t.is_signed = base.valid() && H5Tget_sign(base.get()) == H5T_SGN_2;
  } else if (t.type_class == H5T_STRING) {
    t.variable_string = H5Tis_variable_str(type) > 0;
  }
  return t;
}

bool TypeInfo::is_integer() const {
  return (type_class == H5T_INTEGER || type_class == H5T_ENUM) && size >= 1 && size <= 8;
}

bool TypeInfo::is_number() const {
  return is_integer() || (type_class == H5T_FLOAT && (size == 4 || size == 8 || size == 2));
}

std::string TypeInfo::describe() const {
  switch (type_class) {
    case H5T_INTEGER: return std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
    case H5T_FLOAT: return "float" + std::to_string(size * 8);
    case H5T_ENUM: return size == 1 ? "bool" : "enum";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "unknown type";
  }
}

// --- file -----------------------------------------------------------------------

std::shared_ptr<File> File::open(const std::string& who, const std::string& path) {
  silence_errors();
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 <= 0) {
    FILE* probe = std::fopen(path.c_str(), "rb");
    if (!probe) throw Error(who + ": " + path + ": the file does not exist or cannot be read");
    std::fclose(probe);
    throw Error(who + ": " + path + ": not an HDF5 file (or its header is damaged)");
  }
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.valid()) {
    std::string why = last_error_message();
    throw Error(who + ": " + path + ": cannot open the HDF5 file" +
                (why.empty() ? std::string() : " (HDF5: " + why + ")"));
  }
  return std::shared_ptr<File>(new File(who, path, std::move(f)));
}

std::shared_ptr<File> File::create(const std::string& who, const std::string& path,
                                   const std::string& shown_path) {
  silence_errors();
  const std::string& shown = shown_path.empty() ? path : shown_path;
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!f.valid()) {
    std::string why = last_error_message();
    throw Error(who + ": " + shown + ": cannot create the file" +
                (why.empty() ? std::string() : " (HDF5: " + why + ")"));
  }
  return std::shared_ptr<File>(new File(who, shown, std::move(f)));
}

void File::fail(const std::string& what) const { throw Error(who_ + ": " + path_ + ": " + what); }

void File::close() {
  if (!handle_.valid()) return;
  // Detach first so that a failing close is not retried by the destructor.
  hid_t id = handle_.release();
  if (H5Fclose(id) < 0) fail("could not finish writing the file (" + last_error_message() + ")");
}

Kind File::kind(const std::string& name) const {
  if (name.empty() || name == "/") return Kind::Group;
  // Checks each level, since H5Lexists fails when a parent is missing.
  size_t pos = 0;
  while (true) {
    size_t slash = name.find('/', pos);
    std::string prefix = name.substr(0, slash);
    if (!prefix.empty() && H5Lexists(id(), prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return Kind::Missing;
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  Handle obj(H5Oopen(id(), name.c_str(), H5P_DEFAULT));
  if (!obj.valid()) {  // e.g. a dangling soft link
    H5Eclear2(H5E_DEFAULT);
    return Kind::Missing;
  }
  switch (H5Iget_type(obj.get())) {
    case H5I_GROUP: return Kind::Group;
    case H5I_DATASET: return Kind::Dataset;
    default: return Kind::Other;
  }
}

Group File::group(const std::string& name) const {
  Kind k = kind(name);
  if (k == Kind::Missing) fail("group '" + name + "' is missing");
  if (k != Kind::Group) fail("'" + name + "' is not a group");
  Handle g(H5Gopen2(id(), name.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail("cannot open group '" + name + "' (HDF5: " + last_error_message() + ")");
  return Group(shared_from_this(), name, std::move(g));
}

Dataset File::dataset(const std::string& name) const {
  Kind k = kind(name);
  if (k == Kind::Missing) fail("dataset '" + name + "' is missing");
  if (k != Kind::Dataset) fail("'" + name + "' is not a dataset");
  Handle d(H5Dopen2(id(), name.c_str(), H5P_DEFAULT));
  if (!d.valid()) fail("cannot open dataset '" + name + "' (HDF5: " + last_error_message() + ")");
  return Dataset(shared_from_this(), name, std::move(d));
}

// --- attributes -----------------------------------------------------------------

void Object::fail(const std::string& what) const { file_->fail(what); }

void Object::check_header() const {
  if (header_checked_) return;
  std::string damage = check_object_header(id(), file_->path());
  if (!damage.empty()) fail("the header of '" + name_ + "' is damaged: " + damage);
  header_checked_ = true;
}

bool Object::has_attribute(const std::string& attr) const {
  check_header();
  htri_t r = H5Aexists(id(), attr.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

Handle Object::open_attribute(const std::string& attr) const {
  if (!has_attribute(attr)) fail("'" + name_ + "' has no attribute '" + attr + "'");
  Handle a(H5Aopen(id(), attr.c_str(), H5P_DEFAULT));
  if (!a.valid())
    fail("cannot open attribute '" + attr + "' of '" + name_ + "' (HDF5: " +
         last_error_message() + ")");
  return a;
}

// Number of elements of an attribute, refusing implausible sizes (attributes
// are small; a huge count means a corrupted dataspace).
static size_t attribute_elements(const Object& obj, hid_t attr, const std::string& attr_name,
                                 size_t elem_size) {
  Handle space(H5Aget_space(attr));
  hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (n < 0) obj.fail("cannot read the size of attribute '" + attr_name + "' of '" + obj.name() + "'");
  if (double(n) * double(std::max<size_t>(elem_size, 1)) > double(1 << 28))
    obj.fail("attribute '" + attr_name + "' of '" + obj.name() + "' claims an implausible size");
  return size_t(n);
}

std::vector<std::string> Object::strings_attribute(const std::string& attr) const {
  Handle a = open_attribute(attr);
  Handle type(H5Aget_type(a.get()));
  TypeInfo t = describe_type(type.get());
  size_t n = attribute_elements(*this, a.get(), attr, t.variable_string ? sizeof(char*) : t.size);
  std::vector<std::string> out;
  if (n == 0) return out;  // anndata writes an empty column-order as float64[0]
  if (!t.is_string())
    fail("attribute '" + attr + "' of '" + name_ + "' is " + t.describe() + ", expected text");
  auto read = [&](hid_t mem, void* buf) { return H5Aread(a.get(), mem, buf); };
  if (!read_string_elements(type.get(), n, read, &out))
    fail("cannot read attribute '" + attr + "' of '" + name_ + "' (HDF5: " +
         last_error_message() + ")");
  return out;
}

std::string Object::string_attribute(const std::string& attr) const {
  std::vector<std::string> v = strings_attribute(attr);
  if (v.size() != 1)
    fail("attribute '" + attr + "' of '" + name_ + "' should hold one string, not " +
         std::to_string(v.size()));
  return v[0];
}

std::vector<int64_t> Object::ints_attribute(const std::string& attr) const {
  Handle a = open_attribute(attr);
  Handle type(H5Aget_type(a.get()));
  TypeInfo t = describe_type(type.get());
  if (!t.is_integer())
    fail("attribute '" + attr + "' of '" + name_ + "' is " + t.describe() + ", expected integers");
  size_t n = attribute_elements(*this, a.get(), attr, t.size);
  std::vector<int64_t> out(n);
  if (n == 0) return out;
  if (t.type_class == H5T_ENUM) {
    Handle mem(H5Tget_native_type(type.get(), H5T_DIR_ASCEND));
    std::vector<unsigned char> raw(n * t.size);
    if (!mem.valid() || H5Aread(a.get(), mem.get(), raw.data()) < 0)
      fail("cannot read attribute '" + attr + "' of '" + name_ + "'");
    convert_raw_integers(raw.data(), n, t.size, t.is_signed, out.data());
  } else if (H5Aread(a.get(), H5T_NATIVE_INT64, out.data()) < 0) {
    fail("cannot read attribute '" + attr + "' of '" + name_ + "' (HDF5: " +
         last_error_message() + ")");
  }
  return out;
}

bool Object::bool_attribute(const std::string& attr) const {
  std::vector<int64_t> v = ints_attribute(attr);
  if (v.size() != 1)
    fail("attribute '" + attr + "' of '" + name_ + "' should hold one boolean, not " +
         std::to_string(v.size()) + " values");
  return v[0] != 0;
}

std::string Object::encoding_type() const {
  return has_attribute("encoding-type") ? string_attribute("encoding-type") : std::string();
}

// --- groups ---------------------------------------------------------------------

static herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<std::string> Group::members() const {
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names) < 0)
    fail("cannot list the members of group '" + name_ + "' (HDF5: " + last_error_message() + ")");
  return names;
}

}  // namespace h5
}  // namespace cellshard
